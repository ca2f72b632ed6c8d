//! Bearer tokens: `Authorization: Bearer ov_…` names a caller; no header is an anonymous reader.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::accounts::api_tokens::{self, TokenUser};
use crate::accounts::{Capability, Role};
use crate::api::ApiError;
use crate::http::AppState;

/// Who is calling. A header that is present but not a live token is a 401 even on endpoints that
/// anonymous readers may use, so a client never silently loses its rights.
pub enum Caller {
    Anonymous,
    Token(TokenUser),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::unauthorized("Expected `Authorization: Bearer <token>`."))?;
        match api_tokens::authenticate(&state.db, token).await? {
            Some(user) => Ok(Caller::Token(user)),
            None => Err(ApiError::unauthorized("The API token is invalid or revoked.")),
        }
    }
}

/// A caller that must hold a token, for endpoints with a request body: the 401 comes before the
/// body is read, so an anonymous client is told to authenticate, not how its body is wrong.
/// (Axum runs parts extractors before the body extractor, whatever the handler's argument order.)
pub struct TokenCaller(Caller);

impl FromRequestParts<AppState> for TokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Anonymous => Err(ApiError::unauthorized("This needs an API token.")),
            caller => Ok(TokenCaller(caller)),
        }
    }
}

impl std::ops::Deref for TokenCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl Caller {
    /// The token's user if its role has `capability`: 401 for anonymous callers, 403 otherwise.
    pub fn require(&self, capability: Capability) -> Result<&TokenUser, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::unauthorized("This needs an API token.")),
            Caller::Token(user) if user.role.can(capability) => Ok(user),
            Caller::Token(user) => Err(ApiError::forbidden(format!(
                "A token with the {} role may not do this ({capability:?}).",
                user.role.as_str()
            ))),
        }
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.role().is_some_and(|role| role.can(capability))
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(user) => Some(user.role),
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(user) => Some(user.user_id),
        }
    }
}
