//! `crds/` is generated from the code: this fails when they drift apart.
//! Regenerate with `make crds`.

#[test]
fn crds_folder_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/aurainstances.yaml");
    let on_disk = std::fs::read_to_string(path).expect("crds/aurainstances.yaml exists");
    let generated = aura_operator::api::crds_yaml();
    assert!(
        on_disk == generated,
        "crds/aurainstances.yaml is out of date: run `make crds`"
    );
}
