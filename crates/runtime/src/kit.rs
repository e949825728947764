//! What every module needs and nobody should write twice: the JSON form of calls (schema,
//! encoding, display), names of fixed sets (roles, categories), state key builders, path
//! segment parsers, and the self-description served at `GET /v1/modules`.
//!
//! A module's call enum derives `Serialize`, `Deserialize` and `JsonSchema` with
//! `#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]`; then
//! [`json_calls!`](crate::json_calls) inside `impl Module` supplies the three JSON methods.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use urbis_core::{Address, ErrorCode, UrbisError};

/// The JSON Schema (draft 2020-12, self-contained: no `$ref`s) of `T`'s JSON form.
///
/// A client can encode calls to borsh from this schema alone (the JavaScript client does):
/// - an object's `properties` are listed in declaration order, which is the borsh field order
///   (schemars' `preserve_order` feature, set in the workspace manifest): fields left out of
///   `required` (`#[serde(default)]`, `Option`) included; in a `tag = "call"` enum the tag
///   `call` comes first and is not a field;
/// - the alternatives of an internally tagged enum (`oneOf`, each with a `const` tag) and the
///   names of a unit-only enum (`enum`, or `oneOf` of `const`s when its variants have doc
///   comments) are in declaration order, which is the borsh variant index;
/// - string types whose borsh form is not a string carry `"x-borsh"` (see `urbis_core`'s
///   schema module and [`HexBytes`]).
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The JSON Schema of bytes written as hex whose borsh form is a `Vec<u8>`: hex digits (an
/// even number, possibly none), annotated `"x-borsh": "bytes"` so that a client encoding from
/// the schema writes the bytes rather than the text. For a field serialized as hex:
/// `#[schemars(with = "urbis_runtime::kit::HexBytes")]`.
pub struct HexBytes;

impl JsonSchema for HexBytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HexBytes".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Bytes: hex digits, two per byte.",
            "pattern": "^([0-9a-fA-F]{2})*$",
            "x-borsh": "bytes"
        })
    }
}

/// Encode the JSON form of a call to the bytes a transaction carries. JSON that does not
/// match the schema (an unknown call, a missing or unknown field, a value of the wrong type
/// or out of range) is `schema_mismatch`.
pub fn call_from_json<T: DeserializeOwned + BorshSerialize>(
    module: &str,
    json: &Value,
) -> Result<Vec<u8>, UrbisError> {
    let call: T = serde_json::from_value(json.clone()).map_err(|e| {
        UrbisError::new(
            ErrorCode::SchemaMismatch,
            format!("not a {module} call: {e}"),
        )
    })?;
    Ok(borsh::to_vec(&call).expect("borsh to vec never fails"))
}

/// The JSON form of the call encoded in `data` (`unknown_call` when it does not decode).
pub fn call_to_json<T: BorshDeserialize + Serialize>(data: &[u8]) -> Result<Value, UrbisError> {
    let call: T = borsh::from_slice(data)
        .map_err(|_| UrbisError::new(ErrorCode::UnknownCall, "call does not decode"))?;
    serde_json::to_value(call).map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
}

/// The `call` names of a call schema built by [`schema_of`] for a `tag = "call"` enum.
pub fn call_names(schema: &Value) -> Vec<String> {
    schema
        .get("oneOf")
        .and_then(Value::as_array)
        .map(|variants| {
            variants
                .iter()
                .filter_map(|v| v.pointer("/properties/call/const")?.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Inside `impl Module for …`: the JSON form of the module's calls, from its call enum.
///
/// ```ignore
/// impl Module for Assets {
///     urbis_runtime::json_calls!(AssetsCall);
///     …
/// }
/// ```
#[macro_export]
macro_rules! json_calls {
    ($call:ty) => {
        fn call_schema(&self) -> $crate::__private::serde_json::Value {
            $crate::kit::schema_of::<$call>()
        }

        fn call_from_json(
            &self,
            json: &$crate::__private::serde_json::Value,
        ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::__private::UrbisError> {
            $crate::kit::call_from_json::<$call>(self.name(), json)
        }

        fn describe_call(
            &self,
            data: &[u8],
        ) -> ::core::result::Result<
            $crate::__private::serde_json::Value,
            $crate::__private::UrbisError,
        > {
            $crate::kit::call_to_json::<$call>(data)
        }
    };
}

/// A fixed set of names (roles, categories, kinds): an enum whose text form is a snake_case
/// name, used alike in JSON, on the command line, in events and in keys. Generates `ALL`,
/// `as_str`, `Display`, `FromStr` (error: [`UnknownName`]), serde as the name, a JSON Schema
/// (`enum` of the names) and borsh as the declaration index (one byte): never reorder, only
/// append.
///
/// ```ignore
/// urbis_runtime::named_enum! {
///     /// A city role.
///     pub enum Role("role") {
///         CityAdmin = "city_admin",
///         Citizen = "citizen",
///     }
/// }
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case name used in JSON, on the command line, in events and keys.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            fn index(self) -> u8 {
                $name::ALL
                    .iter()
                    .position(|v| *v == self)
                    .expect("every value is in ALL") as u8
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::kit::UnknownName;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::kit::UnknownName {
                        what: $what,
                        given: s.to_string(),
                        expected: $name::ALL.iter().map(|v| v.as_str()).collect(),
                    })
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                s: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                d: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let s = <::std::string::String as $crate::__private::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(<D::Error as $crate::__private::serde::de::Error>::custom)
            }
        }

        impl $crate::__private::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(
                _: &mut $crate::__private::schemars::SchemaGenerator,
            ) -> $crate::__private::schemars::Schema {
                let names: ::std::vec::Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                $crate::__private::schemars::json_schema!({
                    "type": "string",
                    "enum": names,
                })
            }
        }

        impl $crate::__private::borsh::BorshSerialize for $name {
            fn serialize<W: ::std::io::Write>(&self, w: &mut W) -> ::std::io::Result<()> {
                w.write_all(&[self.index()])
            }
        }

        impl $crate::__private::borsh::BorshDeserialize for $name {
            fn deserialize_reader<R: ::std::io::Read>(r: &mut R) -> ::std::io::Result<Self> {
                let mut b = [0u8; 1];
                r.read_exact(&mut b)?;
                $name::ALL.get(b[0] as usize).copied().ok_or_else(|| {
                    ::std::io::Error::new(
                        ::std::io::ErrorKind::InvalidData,
                        concat!("unknown ", $what, " index"),
                    )
                })
            }
        }
    };
}

/// A name that is not one of a fixed set (see [`named_enum!`](crate::named_enum)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}; expected one of {}", expected.join(", "))]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: Vec<&'static str>,
}

impl From<UnknownName> for UrbisError {
    fn from(e: UnknownName) -> Self {
        UrbisError::new(ErrorCode::InvalidArgument, e.to_string())
    }
}

/// The state key `<module>/<part>/<part>…` (parts in their text form).
pub fn key(module: &str, parts: &[&dyn std::fmt::Display]) -> Vec<u8> {
    let mut k = module.to_string();
    for p in parts {
        k.push('/');
        k.push_str(&p.to_string());
    }
    k.into_bytes()
}

/// The key prefix `<module>/<part>/…/` under which [`key`] puts `parts` and more.
pub fn prefix(module: &str, parts: &[&dyn std::fmt::Display]) -> Vec<u8> {
    let mut k = key(module, parts);
    k.push(b'/');
    k
}

/// A query path segment that must be an address (`invalid_argument` otherwise).
/// Decode a module's borsh call; bytes that are not one are `unknown_call`.
pub fn decode_call<T: borsh::BorshDeserialize>(data: &[u8]) -> Result<T, UrbisError> {
    borsh::from_slice(data)
        .map_err(|_| UrbisError::new(ErrorCode::UnknownCall, "call does not decode"))
}

/// Genesis of a module that takes no configuration: `null` is fine, anything else is
/// `invalid_argument`.
pub fn no_genesis(module: &str, config: &serde_json::Value) -> Result<(), UrbisError> {
    if config.is_null() {
        Ok(())
    } else {
        Err(UrbisError::new(
            urbis_core::ErrorCode::InvalidArgument,
            format!("the {module} module takes no genesis configuration"),
        ))
    }
}

pub fn parse_address(text: &str) -> Result<Address, UrbisError> {
    text.parse().map_err(|e: urbis_core::keys::KeyError| {
        UrbisError::new(ErrorCode::InvalidArgument, e.to_string())
    })
}

/// A query path segment that must be a decimal integer, named `what` in the error.
pub fn parse_u64(what: &str, text: &str) -> Result<u64, UrbisError> {
    text.parse().map_err(|_| {
        UrbisError::new(
            ErrorCode::InvalidArgument,
            format!("{what} must be a decimal integer, got {text:?}"),
        )
    })
}

/// Parse a 64-hex-digit id (an object id, a record id) named `what` in the error.
pub fn parse_hash(what: &str, text: &str) -> Result<urbis_core::Hash, UrbisError> {
    text.parse().map_err(|_| {
        UrbisError::new(
            ErrorCode::InvalidArgument,
            format!("{what} is 64 hex digits, got {text:.80?}"),
        )
    })
}

/// A query a module answers (see [`ModuleInfo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueryInfo {
    /// The path, `<placeholders>` for segments, e.g. `balance/<symbol>/<address>`.
    pub path: &'static str,
    /// A list query (paginated with `limit` and `cursor`) rather than a single key.
    pub list: bool,
    pub description: &'static str,
}

/// An event a module emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventInfo {
    pub kind: &'static str,
    /// Attribute names, in the order they appear.
    pub attributes: &'static [&'static str],
    pub description: &'static str,
}

/// A [`QueryInfo`] in one line: `query_info!("balance/<address>", false, "An account's tokens.")`.
#[macro_export]
macro_rules! query_info {
    ($path:expr, $list:expr, $d:expr) => {
        $crate::QueryInfo {
            path: $path,
            list: $list,
            description: $d,
        }
    };
}

/// An [`EventInfo`] in one line: `event_info!("paid", ["to", "amount"], "A payment.")`.
#[macro_export]
macro_rules! event_info {
    ($kind:expr, [$($a:expr),*], $d:expr) => {
        $crate::EventInfo {
            kind: $kind,
            attributes: &[$($a),*],
            description: $d,
        }
    };
}

/// The civil date of a day number since 1970-01-01 (proleptic Gregorian): `(year, month 1–12,
/// day 1–31)`. Integer-only (H. Hinnant's days-to-civil algorithm, for days ≥ 0).
pub fn civil_date(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The calendar month of a day number as `yyyymm`.
pub fn month_of_day(day: u64) -> u32 {
    let (y, m, _) = civil_date(day);
    (y as u32) * 100 + m
}

/// A scheduler job's payload in the common shape `[kind] ‖ id (u64 LE)`.
pub fn job_payload(kind: u8, id: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(9);
    p.push(kind);
    p.extend_from_slice(&id.to_le_bytes());
    p
}

/// The `(kind, id)` of a [`job_payload`]; `internal` if malformed (`module` names the owner).
pub fn parse_job(module: &str, payload: &[u8]) -> Result<(u8, u64), UrbisError> {
    match payload {
        [kind, rest @ ..] if rest.len() == 8 => {
            let mut id = [0u8; 8];
            id.copy_from_slice(rest);
            Ok((*kind, u64::from_le_bytes(id)))
        }
        _ => Err(UrbisError::new(
            ErrorCode::Internal,
            format!("malformed {module} job"),
        )),
    }
}

/// What a module says about itself at `GET /v1/modules` (its call schema comes from
/// [`Module::call_schema`](crate::Module::call_schema)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    pub description: &'static str,
    pub queries: &'static [QueryInfo],
    pub events: &'static [EventInfo],
    /// Names of the operations other modules may call (`Ctx::invoke`).
    pub exported: &'static [&'static str],
}

impl ModuleInfo {
    /// The `not_found` error for a query path that is none of [`ModuleInfo::queries`].
    pub fn unknown_path(&self, module: &str, path: &[&str]) -> UrbisError {
        let known: Vec<&str> = self.queries.iter().map(|q| q.path).collect();
        UrbisError::new(
            ErrorCode::NotFound,
            format!(
                "{module} has no query {:?}; queries: {}",
                path.join("/"),
                known.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::named_enum! {
        /// A test set.
        pub enum Colour("colour") {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn job_payloads_round_trip_and_malformed_ones_are_refused() {
        let p = job_payload(3, 20_424);
        assert_eq!(p.len(), 9);
        assert_eq!(parse_job("m", &p).unwrap(), (3, 20_424));
        assert!(parse_job("m", &[]).is_err());
        assert!(parse_job("m", &p[..8]).is_err());
        assert!(parse_job("m", &[p.clone(), vec![0]].concat()).is_err());
    }

    #[test]
    fn named_enums_agree_in_every_form() {
        for (i, c) in Colour::ALL.iter().enumerate() {
            assert_eq!(c.to_string().parse::<Colour>().unwrap(), *c);
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, Value::String(c.as_str().into()));
            assert_eq!(serde_json::from_value::<Colour>(json).unwrap(), *c);
            assert_eq!(borsh::to_vec(c).unwrap(), vec![i as u8]);
            assert_eq!(borsh::from_slice::<Colour>(&[i as u8]).unwrap(), *c);
        }
        let e = "DarkBlue".parse::<Colour>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown colour \"DarkBlue\"; expected one of red, dark_blue"
        );
        assert!(borsh::from_slice::<Colour>(&[2]).is_err());
        assert!(serde_json::from_value::<Colour>(serde_json::json!("blue")).is_err());
        assert_eq!(
            schema_of::<Colour>()["enum"],
            serde_json::json!(["red", "dark_blue"])
        );
    }

    /// Not in alphabetical order, with an optional and a defaulted field in the middle.
    #[derive(serde::Serialize, serde::Deserialize, JsonSchema, BorshSerialize)]
    #[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
    enum OrderCall {
        Zeta {
            zz: u8,
            #[serde(default)]
            maybe: Option<u64>,
            #[serde(default, with = "urbis_core::hexser")]
            #[schemars(with = "HexBytes")]
            blob: Vec<u8>,
            after: String,
        },
        Alpha,
    }

    #[test]
    fn call_schemas_list_fields_and_variants_in_declaration_order() {
        let schema = schema_of::<OrderCall>();
        assert_eq!(call_names(&schema), ["zeta", "alpha"]);
        let zeta = &schema["oneOf"][0];
        let fields: Vec<&str> = zeta["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["call", "zz", "maybe", "blob", "after"]);
        assert_eq!(zeta["required"], serde_json::json!(["call", "zz", "after"]));
        assert_eq!(zeta["properties"]["blob"]["x-borsh"], "bytes");
        // The JSON form encodes to the same bytes as the value.
        let json = serde_json::json!({"call": "zeta", "zz": 1, "blob": "0aff", "after": "x"});
        let bytes = call_from_json::<OrderCall>("m", &json).unwrap();
        let value = OrderCall::Zeta {
            zz: 1,
            maybe: None,
            blob: vec![0x0a, 0xff],
            after: "x".into(),
        };
        assert_eq!(bytes, borsh::to_vec(&value).unwrap());
        assert_eq!(bytes, [0, 1, 0, 2, 0, 0, 0, 0x0a, 0xff, 1, 0, 0, 0, b'x']);
    }

    #[test]
    fn keys_join_parts_with_slashes() {
        assert_eq!(key("m", &[&"a", &7u64]), b"m/a/7".to_vec());
        assert_eq!(prefix("m", &[&"a"]), b"m/a/".to_vec());
        assert_eq!(key("m", &[]), b"m".to_vec());
    }
}

/// The module whose council sets other modules' parameters (see [`ParameterOp`]).
pub const PARAMETER_SETTER: &str = "governance";

/// The exported operation by which the council sets a module parameter (borsh). A module with
/// parameters answers it in `Module::exported`, after checking that the caller is
/// [`PARAMETER_SETTER`]; an unknown name is `invalid_argument`.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub enum ParameterOp {
    Set { name: String, value: u64 },
}
