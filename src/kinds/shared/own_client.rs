//! The Aura client of an object with credentials of its own (projectRef,
//! credentialsSecretRef or the ClusterAuraProject `default`): resolved, held
//! where the object names a Secret of its own, counted for its client id.

use crate::aura::AuraClient;
use crate::reconciler::credentials::{self, CredentialsProblem, CredentialsSource};
use crate::reconciler::projects::user_of;
use crate::reconciler::{Context, Kind, Result, driver};

/// A client of the object's credentials, or why there is none.
pub async fn client<K: Kind>(
    ctx: &Context<K>,
    obj: &K,
) -> Result<std::result::Result<AuraClient, CredentialsProblem>> {
    let source = ctx.credentials_source(obj);
    driver::note_source_in_pass(ctx, obj, &source);
    // A project's Secret is held by the project, not by each of its users.
    let hold = matches!(source, CredentialsSource::Own(_));
    Ok(
        match credentials::resolve(&ctx.client, &ctx.secrets, &source, hold).await? {
            Ok(creds) => {
                ctx.note_client(obj, &creds.client_id);
                Ok(ctx.aura.client(&creds).for_object(user_of(obj)))
            }
            Err(problem) => Err(problem),
        },
    )
}
