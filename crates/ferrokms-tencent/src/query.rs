//! GET requests: the SDKs (`HttpProfile(reqMethod="GET")`) flatten the parameters into the query
//! string (`KeyIds.0=...`, `Tags.0.TagKey=...`), every value a string. This rebuilds the JSON
//! object a POST would carry, so both methods share one decoder.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Request fields of the 2019-01-18 API whose type is an integer (the rest are strings).
const INTEGER_FIELDS: &[&str] = &[
    "NumberOfBytes",
    "Offset",
    "Limit",
    "Role",
    "OrderType",
    "KeyState",
    "Type",
    "IsHostedByKms",
    "ImportType",
    "PendingWindowInDays",
    "RotateDays",
    "DataKeyLen",
    "ValidTo",
    "KeyStatus",
];

/// Most parameters in one query.
const MAX_PARAMETERS: usize = 1000;
/// Most segments of a parameter name.
const MAX_DEPTH: usize = 4;

/// Turns a query string into the JSON body of the equivalent POST.
pub fn to_json(query: &str) -> Result<Vec<u8>, ApiError> {
    pairs_to_json(form_urlencoded::parse(query.as_bytes()))
}

/// Turns decoded `(name, value)` pairs (names flattened as in a query) into a JSON body.
pub fn pairs_to_json<N: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (N, V)>,
) -> Result<Vec<u8>, ApiError> {
    let mut root = Value::Object(Map::new());
    for (n, (name, value)) in pairs.into_iter().enumerate() {
        let (name, value) = (name.as_ref(), value.as_ref());
        if n >= MAX_PARAMETERS {
            return Err(ApiError::invalid_parameter(format!("At most {MAX_PARAMETERS} parameters.")));
        }
        let path: Vec<&str> = name.split('.').collect();
        // The deepest field of the API is `TagFilters.N.TagValue.M`.
        if path.len() > MAX_DEPTH {
            return Err(ApiError::invalid_parameter(format!("Malformed parameter `{name}`.")));
        }
        let leaf = match path.last() {
            Some(last) if INTEGER_FIELDS.contains(last) => match value.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Err(ApiError::invalid_parameter(format!("`{name}` must be an integer."))),
            },
            _ => Value::String(value.to_owned()),
        };
        insert(&mut root, &path, leaf)
            .map_err(|()| ApiError::invalid_parameter(format!("Malformed parameter `{name}`.")))?;
    }
    serde_json::to_vec(&root).map_err(|e| ApiError::invalid_parameter(e.to_string()))
}

fn insert(node: &mut Value, path: &[&str], leaf: Value) -> Result<(), ()> {
    let Some((first, rest)) = path.split_first() else {
        *node = leaf;
        return Ok(());
    };
    let child = match first.parse::<usize>() {
        Ok(index) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let items = node.as_array_mut().ok_or(())?;
            if index > items.len() || index > 1000 {
                return Err(());
            }
            if index == items.len() {
                items.push(Value::Null);
            }
            &mut items[index]
        }
        Err(_) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            node.as_object_mut().ok_or(())?.entry((*first).to_owned()).or_insert(Value::Null)
        }
    };
    insert(child, rest, leaf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_parameters_become_json() {
        let body =
            to_json("KeyIds.0=a&KeyIds.1=b&NumberOfBytes=16&Tags.0.TagKey=k&Tags.0.TagValue=v+w&Alias=123").unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"KeyIds": ["a", "b"], "NumberOfBytes": 16, "Tags": [{"TagKey": "k", "TagValue": "v w"}], "Alias": "123"})
        );
        assert_eq!(to_json("").unwrap(), b"{}");
        assert!(to_json("NumberOfBytes=x").is_err());
        assert!(to_json("KeyIds.5=a").is_err());
        assert!(to_json(&format!("{}=1", vec!["a"; 5000].join("."))).is_err(), "nesting is bounded");
        assert!(to_json(&vec!["a=1"; 1001].join("&")).is_err(), "parameter count is bounded");
    }
}
