//! `crds/` is generated from the code: this fails when they drift apart.
//! Regenerate with `make crds`.

#[test]
fn crds_folder_matches_the_code() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    let crds = aura_operator::api::crds();
    assert!(
        crds.len() >= 2,
        "AuraInstance and AuraInstanceClaim at least"
    );
    for crd in &crds {
        let plural = &crd.spec.names.plural;
        let path = format!("{dir}/{plural}.yaml");
        let on_disk = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}: run `make crds`"));
        assert!(
            on_disk == aura_operator::api::crd_yaml(crd),
            "crds/{plural}.yaml is out of date: run `make crds`"
        );
    }
    let files = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(
        files,
        crds.len(),
        "crds/ holds a file that no kind generates"
    );
}
