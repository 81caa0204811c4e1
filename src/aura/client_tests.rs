//! The registry of tokens and limiters.
use super::*;

fn clients() -> AuraClients {
    AuraClients::new(ClientConfig::default())
}

fn creds(id: &str, secret: &str) -> Credentials {
    Credentials::new(id, secret)
}

#[test]
fn a_rotated_secret_replaces_the_token_cache_and_keeps_the_limiter() {
    let clients = clients();
    let first = clients.client(&creds("id-a", "secret-0"));
    let mut held = vec![];
    for n in 1..=3 {
        held.push(clients.client(&creds("id-a", &format!("secret-{n}"))));
    }
    assert_eq!(clients.registry_sizes(), (1, 1));
    let current = clients.client(&creds("id-a", "secret-3"));
    let last = held.last().unwrap();
    // One limiter per client id, across every secret it had.
    for h in held.iter().chain([&first, &current]) {
        assert!(Arc::ptr_eq(&h.limiter, &first.limiter));
    }
    // The current secret's cache is shared; replaced ones live on in
    // the handles that hold them.
    assert!(Arc::ptr_eq(&current.tokens, &last.tokens));
    assert!(!Arc::ptr_eq(&current.tokens, &first.tokens));
    assert_eq!(first.creds.client_secret, "secret-0");
    // The hourly token budget is the client id's, across secrets.
    assert!(current.tokens.shares_budget_with(&first.tokens));
    // Back to an old secret: a replacement again, not a second entry.
    let back = clients.client(&creds("id-a", "secret-0"));
    assert!(!Arc::ptr_eq(&back.tokens, &first.tokens));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn the_same_secret_shares_the_token_cache() {
    let clients = clients();
    let a = clients.client(&creds("id-a", "s"));
    let b = clients.client(&creds("id-a", "s"));
    assert!(Arc::ptr_eq(&a.tokens, &b.tokens));
    assert!(Arc::ptr_eq(&a.limiter, &b.limiter));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn a_forgotten_client_leaves_nothing_and_its_handles_work_on() {
    let clients = clients();
    let old = clients.client(&creds("id-a", "s"));
    clients.client(&creds("id-a", "s2"));
    clients.forget_client("id-a");
    assert_eq!(clients.registry_sizes(), (0, 0));
    // The handle keeps its own Arcs.
    assert_eq!(old.client_id(), "id-a");
    assert_eq!(Arc::strong_count(&old.limiter), 1);
    // Forgetting twice, or an id never seen, is harmless.
    clients.forget_client("id-a");
    clients.forget_client("never-seen");
    assert_eq!(clients.registry_sizes(), (0, 0));
    // A later handle gets fresh ones.
    let fresh = clients.client(&creds("id-a", "s"));
    assert!(!Arc::ptr_eq(&fresh.limiter, &old.limiter));
    assert!(!Arc::ptr_eq(&fresh.tokens, &old.tokens));
    assert!(!fresh.tokens.shares_budget_with(&old.tokens));
    assert_eq!(clients.registry_sizes(), (1, 1));
}

#[test]
fn forgetting_one_client_id_keeps_the_others() {
    let clients = clients();
    let a = clients.client(&creds("id-a", "sa"));
    let b = clients.client(&creds("id-b", "sb"));
    assert_eq!(clients.registry_sizes(), (2, 2));
    clients.forget_client("id-a");
    assert_eq!(clients.registry_sizes(), (1, 1));
    let b2 = clients.client(&creds("id-b", "sb"));
    assert!(Arc::ptr_eq(&b.tokens, &b2.tokens));
    assert!(Arc::ptr_eq(&b.limiter, &b2.limiter));
    assert_eq!(clients.registry_sizes(), (1, 1));
    let a2 = clients.client(&creds("id-a", "sa"));
    assert!(!Arc::ptr_eq(&a.limiter, &a2.limiter));
    assert_eq!(clients.registry_sizes(), (2, 2));
}
