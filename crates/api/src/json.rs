//! JSON bodies: read whatever the content type (curl's `-d` sends a form type), with
//! errors that name the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body, read within the size limit and parsed on demand. Endpoints parse
/// the same body into several structs (e.g. messages and sampling fields) rather than
/// using `#[serde(flatten)]`, which would hide the path of a wrong field.
#[derive(Debug)]
pub struct JsonBody(pub Bytes);

impl JsonBody {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse(&self.0)
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // One deadline for the whole body: a client trickling a byte at a time must not
        // hold its connection (and a request slot) for ever.
        let limit = state.limits.body_timeout;
        let read = tokio::time::timeout(limit, Bytes::from_request(req, state)).await;
        let read = read.map_err(|_| ApiError::BodyTimeout {
            seconds: limit.as_secs(),
        })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: state.limits.max_body_bytes,
                }
            } else {
                ApiError::InvalidRequest {
                    param: None,
                    message: rejection.body_text(),
                }
            }
        })?;
        Ok(JsonBody(bytes))
    }
}

/// For `#[serde(deserialize_with)]`: `null` means the same as an absent field (clients
/// written against OpenAI's schema send `"stream": null`).
pub fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Parse a body, reporting the JSON path of a wrong field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::InvalidRequest {
                param: None,
                message: format!("request body is not valid JSON: {inner}"),
            }
        } else if path == "." {
            ApiError::InvalidRequest {
                param: None,
                message: format!("invalid request body: {inner}"),
            }
        } else {
            ApiError::InvalidRequest {
                message: format!("invalid value for '{path}': {inner}"),
                param: Some(path),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        temperature: Option<f32>,
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse::<Body>(br#"{"temperature": "hot"}"#).unwrap_err();
        match err {
            ApiError::InvalidRequest { param, message } => {
                assert_eq!(param.as_deref(), Some("temperature"));
                assert!(message.contains("temperature"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_reported() {
        let err = parse::<Body>(b"{not json").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}
