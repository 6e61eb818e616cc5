//! The stored format of a saga: the [`Saga`] as JSON with a `stateVersion` beside its fields.
//!
//! Every store writes a saga through [`encode`] and reads it through [`decode`], so the version is
//! checked in one place:
//!
//! * `stateVersion` [`STATE_VERSION`] (1) is what this release writes and reads as is;
//! * an older version is brought up to date by [`migrate`], one step per version (a new release that
//!   changes the saga's shape adds a step to `MIGRATIONS` and bumps [`STATE_VERSION`]);
//! * state written before versions existed (no `stateVersion`, read as version 0) is refused: the
//!   saga's shape changed in the same release, so there is nothing safe to migrate it from;
//! * a version newer than this build knows is refused too, never defaulted and never overwritten: the
//!   message that loaded it is left for redelivery, where a newer worker may take it.
//!
//! Every refusal names the rollout and says what to do. The golden fixtures under `tests/golden/`
//! are saved in this format; a release that cannot load them (or finish the rollouts they hold) is a
//! release that breaks rollouts in flight.

use serde_json::{Map, Value};

use crate::saga::Saga;

/// The `stateVersion` this build writes.
pub const STATE_VERSION: u32 = 1;
/// The oldest `stateVersion` this build can read (by migrating it up to [`STATE_VERSION`]).
pub const OLDEST_READABLE: u32 = 1;
/// The field that carries the version, beside the saga's own fields.
pub const STATE_VERSION_FIELD: &str = "stateVersion";

/// One migration step: the stored JSON of version `n` to that of version `n + 1`.
type Step = fn(Map<String, Value>) -> Result<Map<String, Value>, String>;

/// The migration steps, by the version they start from. Version 1 is the only version so far, so
/// there is none; the step from 1 to 2 will be `(1, v1_to_v2)`.
const MIGRATIONS: &[(u32, Step)] = &[];

/// A saga that cannot be stored or read by this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    /// Written before `stateVersion` existed (or with version 0).
    #[error(
        "rollout {rollout_id} was stored by an older greenfleet (no stateVersion), which this worker cannot read; \
         let rollouts in flight finish on the old workers before upgrading, or end this one with the old \
         greenfleet (`greenfleet cancel {rollout_id}`) or by hand (see its history) and delete its item"
    )]
    Unversioned {
        /// The rollout.
        rollout_id: String,
    },
    /// Written by a newer greenfleet.
    #[error(
        "rollout {rollout_id} was stored by a newer greenfleet (stateVersion {found}; this worker reads {oldest} to \
         {supported}); upgrade this worker: the message is left for redelivery, and a newer worker will take it"
    )]
    Newer {
        /// The rollout.
        rollout_id: String,
        /// The version found.
        found: u64,
        /// The oldest version this build reads.
        oldest: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A version this build knows of, but cannot migrate (no step from it).
    #[error(
        "rollout {rollout_id} has stateVersion {found}, which this worker cannot migrate; finish it with the \
         greenfleet release that wrote it, then upgrade"
    )]
    NoMigration {
        /// The rollout.
        rollout_id: String,
        /// The version found.
        found: u32,
    },
    /// Not a stored saga: not JSON, a version that is not a number, or fields that do not fit.
    #[error(
        "rollout {rollout_id}: the stored state is not a saga of stateVersion {version} ({message}); it was edited \
         by hand or written by a broken build: fix the item or delete it and clean up by hand"
    )]
    Malformed {
        /// The rollout (or `(unknown)` when the JSON names none).
        rollout_id: String,
        /// The version it claims (0 when none could be read).
        version: u64,
        /// What did not fit, with its path.
        message: String,
    },
    /// The saga could not be encoded (a bug).
    #[error("rollout {rollout_id} could not be encoded for storage: {message}; this is a bug, please report it")]
    Encode {
        /// The rollout.
        rollout_id: String,
        /// The serializer's error.
        message: String,
    },
}

/// The stored JSON of `saga`: its fields and `"stateVersion": 1`.
pub fn encode(saga: &Saga) -> Result<String, StoredError> {
    encode_value(saga).and_then(|v| {
        serde_json::to_string(&v)
            .map_err(|e| StoredError::Encode { rollout_id: saga.id.to_string(), message: e.to_string() })
    })
}

/// The stored JSON of `saga` as a value (pretty-printed by the golden fixtures).
pub fn encode_value(saga: &Saga) -> Result<Value, StoredError> {
    let encode_error =
        |e: serde_json::Error| StoredError::Encode { rollout_id: saga.id.to_string(), message: e.to_string() };
    let Value::Object(mut fields) = serde_json::to_value(saga).map_err(encode_error)? else {
        return Err(StoredError::Encode { rollout_id: saga.id.to_string(), message: "not a JSON object".into() });
    };
    fields.insert(STATE_VERSION_FIELD.to_owned(), Value::from(STATE_VERSION));
    Ok(Value::Object(fields))
}

/// Reads a stored saga: checks its `stateVersion`, migrates an older readable one, refuses the rest.
pub fn decode(json: &str) -> Result<Saga, StoredError> {
    let value: Value = serde_json::from_str(json).map_err(|e| StoredError::Malformed {
        rollout_id: "(unknown)".into(),
        version: 0,
        message: format!("not JSON: {e}"),
    })?;
    decode_value(value)
}

/// [`decode`] of an already parsed value.
pub fn decode_value(value: Value) -> Result<Saga, StoredError> {
    let Value::Object(mut fields) = value else {
        return Err(StoredError::Malformed {
            rollout_id: "(unknown)".into(),
            version: 0,
            message: "not a JSON object".into(),
        });
    };
    let rollout_id = fields.get("id").and_then(Value::as_str).unwrap_or("(unknown)").to_owned();
    let version = match fields.remove(STATE_VERSION_FIELD) {
        None => return Err(StoredError::Unversioned { rollout_id }),
        Some(v) => v.as_u64().ok_or_else(|| StoredError::Malformed {
            rollout_id: rollout_id.clone(),
            version: 0,
            message: format!("`{STATE_VERSION_FIELD}` is {v}, not a whole number"),
        })?,
    };
    let fields = migrate(&rollout_id, version, fields)?;
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| StoredError::Malformed {
        rollout_id,
        version,
        message: format!("at `{}`: {}", e.path(), e.inner()),
    })
}

/// Brings the stored fields of rollout `rollout_id`, written at `from_version`, up to
/// [`STATE_VERSION`], one step per version. Version 0 (no version) and versions newer than this
/// build are refused.
pub fn migrate(
    rollout_id: &str,
    from_version: u64,
    fields: Map<String, Value>,
) -> Result<Map<String, Value>, StoredError> {
    migrate_with(MIGRATIONS, STATE_VERSION, rollout_id, from_version, fields)
}

fn migrate_with(
    steps: &[(u32, Step)],
    current: u32,
    rollout_id: &str,
    from_version: u64,
    mut fields: Map<String, Value>,
) -> Result<Map<String, Value>, StoredError> {
    if from_version == 0 {
        return Err(StoredError::Unversioned { rollout_id: rollout_id.to_owned() });
    }
    let from = match u32::try_from(from_version) {
        Ok(v) if v <= current => v,
        _ => {
            return Err(StoredError::Newer {
                rollout_id: rollout_id.to_owned(),
                found: from_version,
                oldest: OLDEST_READABLE,
                supported: current,
            });
        }
    };
    for version in from..current {
        let no_step = || StoredError::NoMigration { rollout_id: rollout_id.to_owned(), found: from };
        let (_, step) = steps.iter().find(|(v, _)| *v == version).ok_or_else(no_step)?;
        fields = step(fields).map_err(|message| StoredError::Malformed {
            rollout_id: rollout_id.to_owned(),
            version: u64::from(version),
            message: format!("migrating to stateVersion {}: {message}", version + 1),
        })?;
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Timestamp;
    use crate::scenarios::fixtures::request;

    fn saga() -> Saga {
        crate::accept(request(), Timestamp(1_000)).next
    }

    #[test]
    fn version_1_round_trips() {
        let saga = saga();
        let json = encode(&saga).expect("encodes");
        let value: Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(value[STATE_VERSION_FIELD], 1);
        assert_eq!(value["id"], saga.id.to_string());
        assert_eq!(decode(&json).expect("decodes"), saga);
    }

    #[test]
    fn state_without_a_version_is_refused_naming_the_rollout() {
        let saga = saga();
        let mut value = encode_value(&saga).expect("encodes");
        value.as_object_mut().expect("object").remove(STATE_VERSION_FIELD);
        let e = decode(&value.to_string()).expect_err("refused");
        assert_eq!(e, StoredError::Unversioned { rollout_id: saga.id.to_string() });
        let text = e.to_string();
        assert!(text.contains(&format!("rollout {}", saga.id)), "{text}");
        assert!(text.contains("older greenfleet"), "{text}");
        assert!(text.contains("finish on the old workers before upgrading"), "{text}");
        value[STATE_VERSION_FIELD] = Value::from(0);
        assert!(matches!(decode(&value.to_string()), Err(StoredError::Unversioned { .. })));
    }

    #[test]
    fn a_newer_version_is_refused_and_never_defaulted() {
        let saga = saga();
        let mut value = encode_value(&saga).expect("encodes");
        for newer in [2, u64::from(u32::MAX) + 1] {
            value[STATE_VERSION_FIELD] = Value::from(newer);
            let e = decode(&value.to_string()).expect_err("refused");
            assert_eq!(
                e,
                StoredError::Newer { rollout_id: saga.id.to_string(), found: newer, oldest: 1, supported: 1 }
            );
            assert!(e.to_string().contains("newer greenfleet"), "{e}");
            assert!(e.to_string().contains("upgrade this worker"), "{e}");
        }
    }

    #[test]
    fn malformed_state_names_the_rollout_and_the_field() {
        let saga = saga();
        let mut value = encode_value(&saga).expect("encodes");
        value["fence"] = Value::from("three");
        let e = decode(&value.to_string()).expect_err("refused");
        let StoredError::Malformed { rollout_id, version, message } = &e else { panic!("{e:?}") };
        assert_eq!((rollout_id.as_str(), *version), (saga.id.as_str(), 1));
        assert!(message.contains("fence"), "{message}");
        value[STATE_VERSION_FIELD] = Value::from("1");
        assert!(decode(&value.to_string()).unwrap_err().to_string().contains("not a whole number"));
        assert!(matches!(decode("{oops"), Err(StoredError::Malformed { .. })));
        assert!(matches!(decode("[1]"), Err(StoredError::Malformed { .. })));
    }

    fn rename_fence(mut fields: Map<String, Value>) -> Result<Map<String, Value>, String> {
        let fence = fields.remove("oldFence").ok_or("no `oldFence`")?;
        fields.insert("fence".into(), fence);
        Ok(fields)
    }

    #[test]
    fn migration_runs_one_step_per_version_up_to_the_current_one() {
        let mut fields = Map::new();
        fields.insert("oldFence".into(), Value::from(7));
        // A build whose current version is 2, with a step from 1: version 1 is migrated, 2 read as is.
        let steps: &[(u32, Step)] = &[(1, rename_fence)];
        let up = migrate_with(steps, 2, "r-1", 1, fields.clone()).expect("migrated");
        assert_eq!(up.get("fence"), Some(&Value::from(7)));
        assert_eq!(migrate_with(steps, 2, "r-1", 2, fields.clone()).expect("as is"), fields);
        let failed = migrate_with(steps, 2, "r-1", 1, Map::new()).expect_err("step fails");
        assert!(failed.to_string().contains("migrating to stateVersion 2: no `oldFence`"), "{failed}");
        // A version with no step is refused, not skipped.
        let e = migrate_with(&[], 3, "r-1", 1, fields).expect_err("no step from 1");
        assert_eq!(e, StoredError::NoMigration { rollout_id: "r-1".into(), found: 1 });
    }

    #[test]
    fn this_build_reads_its_own_version_unchanged() {
        let mut fields = Map::new();
        fields.insert("x".into(), Value::from(1));
        assert_eq!(migrate("r-1", u64::from(STATE_VERSION), fields.clone()).expect("current"), fields);
    }
}
