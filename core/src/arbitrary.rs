//! Test-only proptest strategies shared by the decoders' property tests: arbitrary JSON values to put
//! where a field belongs, so each test shows a wrong type is refused with the field named.

use proptest::prelude::*;

/// A JSON leaf: null, a boolean, an integer, a finite float or a string.
pub(crate) fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ]
}

/// A JSON leaf, or a small array or object.
pub(crate) fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![json_leaf(), Just(serde_json::json!([1, "a"])), Just(serde_json::json!({"a": 1}))]
}
