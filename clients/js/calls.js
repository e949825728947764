// Module calls from their JSON form: validate the JSON against the module's call schema
// (`call_schema` in `GET /v1/modules/{name}`, JSON Schema draft 2020-12) and write the borsh
// bytes a transaction carries, exactly as the node's `call_from_json` does.
//
// How a schema maps to borsh (see `urbis_runtime::kit::schema_of`):
// - object with `properties`: the fields in the order listed (declaration order); a field left
//   out of the JSON takes the schema's `default`, or `null` if it may be null, and is an error
//   if it is `required`; with `additionalProperties: false` an unknown field is an error;
// - internally tagged enum (`oneOf` of objects sharing a `const` tag, e.g. `call`): the variant
//   index (u8, position in `oneOf`), then the variant's fields without the tag;
// - unit-only enum (`enum` of names, or `oneOf` of `const`s): the variant index (u8);
// - externally tagged enum (`oneOf` of single-key objects): the index, then the value;
// - `type: [T, "null"]` or `anyOf`/`oneOf` with `{type: "null"}`: an `Option` (0, or 1 then T);
// - integer by `format` (`uint8` … `uint128`, `int8` … `int128`; `uint` is u64); `number`
//   by format `double` (f64) or `float` (f32); boolean: one byte; string: `u32` length, UTF-8;
// - string with `x-borsh`: `hash` (32 bytes), `address` (20 bytes), `public_key` and
//   `signature` (scheme index 0, then 32 or 64 bytes), `bytes` (hex → `Vec<u8>`);
// - array: `u32` count then the items; a fixed-size Rust array (`minItems` = `maxItems`, or
//   `x-borsh: "fixed"`) without the count; a tuple (`prefixItems`) item after item;
// - map (object with `additionalProperties` only): count, then entries sorted by key.
// Plain ES module; runs unchanged in a browser and in Node (≥ 20).

import { unhex } from "./bytes.js";
import { Writer, checkInt, describe } from "./borsh.js";
import { encodePublicKey, parseAddress, parsePublicKey } from "./tx.js";

/** JSON that does not fit a call schema; `code` is `schema_mismatch`, as from the node. */
export class SchemaMismatch extends Error {
  constructor(message, path = "") {
    super(path ? `${path}: ${message}` : message);
    this.name = "SchemaMismatch";
    this.code = "schema_mismatch";
    this.path = path;
  }
}

/** A schema this encoder cannot map to borsh (a client or schema bug, not bad input). */
export class UnsupportedSchema extends Error {
  constructor(message, path = "") {
    super(`${path ? `${path}: ` : ""}${message}`);
    this.name = "UnsupportedSchema";
    this.code = "unsupported_schema";
    this.path = path;
  }
}

const INT_FORMATS = {
  uint8: "u8",
  uint16: "u16",
  uint32: "u32",
  uint64: "u64",
  uint128: "u128",
  uint: "u64",
  int8: "i8",
  int16: "i16",
  int32: "i32",
  int64: "i64",
  int128: "i128",
  int: "i64",
};

const patterns = new Map();

function matchesPattern(pattern, text) {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(pattern, "u");
    patterns.set(pattern, re);
  }
  return re.test(text);
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function typesOf(schema) {
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

function isNullSchema(s) {
  return isObject(s) && (s.type === "null" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "null"));
}

/** The schema of `T` when `schema` is an `Option<T>`'s; otherwise `undefined`. */
function optionInner(schema) {
  const types = typesOf(schema);
  if (types.length > 1 && types.includes("null")) {
    const rest = types.filter((t) => t !== "null");
    const inner = { ...schema, type: rest.length === 1 ? rest[0] : rest };
    if (Array.isArray(schema.enum)) inner.enum = schema.enum.filter((v) => v !== null);
    delete inner.default;
    return inner;
  }
  for (const key of ["anyOf", "oneOf"]) {
    const alts = schema[key];
    if (Array.isArray(alts) && alts.length === 2 && alts.some(isNullSchema)) {
      const inner = alts.find((a) => !isNullSchema(a));
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The tag property of an internally tagged enum's `oneOf` (every alternative an object with
 * a `const` string under the same property), or `undefined`. */
function internalTag(alts) {
  const first = alts[0];
  if (!isObject(first?.properties)) return undefined;
  for (const name of Object.keys(first.properties)) {
    if (alts.every((a) => typeof a?.properties?.[name]?.const === "string")) return name;
  }
  return undefined;
}

function fail(message, path) {
  throw new SchemaMismatch(message, path);
}

function writeIndex(w, index, path) {
  if (index > 255) throw new UnsupportedSchema("more than 256 variants", path);
  w.u8(index);
}

function encodeInto(w, schema, value, path) {
  if (!isObject(schema)) throw new UnsupportedSchema("not a schema object", path);
  if (schema.$ref !== undefined) throw new UnsupportedSchema("$ref schemas are not supported", path);

  const inner = optionInner(schema);
  if (inner !== undefined) {
    if (value === null || value === undefined) {
      w.u8(0);
    } else {
      w.u8(1);
      encodeInto(w, inner, value, path);
    }
    return;
  }

  if (Array.isArray(schema.oneOf)) return encodeOneOf(w, schema, value, path);
  if (schema.anyOf !== undefined || schema.allOf !== undefined) {
    throw new UnsupportedSchema("anyOf/allOf other than an Option are not supported", path);
  }

  if (Array.isArray(schema.enum)) {
    const index = schema.enum.indexOf(value);
    if (index < 0 || typeof value !== "string") {
      fail(`expected one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(value)}`, path);
    }
    return writeIndex(w, index, path);
  }
  if (schema.const !== undefined) {
    if (value !== schema.const) fail(`expected ${JSON.stringify(schema.const)}, got ${describe(value)}`, path);
    return;
  }

  const types = typesOf(schema);
  if (types.length !== 1) throw new UnsupportedSchema(`no single type (${JSON.stringify(schema.type)})`, path);
  switch (types[0]) {
    case "boolean":
      if (typeof value !== "boolean") fail(`expected a boolean, got ${describe(value)}`, path);
      w.bool(value);
      return;
    case "integer":
      return encodeInteger(w, schema, value, path);
    case "number":
      return encodeNumber(w, schema, value, path);
    case "string":
      return encodeString(w, schema, value, path);
    case "array":
      return encodeArray(w, schema, value, path);
    case "object":
      return encodeObject(w, schema, value, path);
    default:
      throw new UnsupportedSchema(`type ${JSON.stringify(types[0])} has no borsh form`, path);
  }
}

function encodeOneOf(w, schema, value, path) {
  const alts = schema.oneOf;
  // Unit-only enum with documented variants: one `const` name per variant.
  if (alts.every((a) => typeof a?.const === "string")) {
    const index = alts.findIndex((a) => a.const === value);
    if (index < 0) fail(`expected one of ${alts.map((a) => JSON.stringify(a.const)).join(", ")}, got ${describe(value)}`, path);
    return writeIndex(w, index, path);
  }
  const tag = internalTag(alts);
  if (tag !== undefined) {
    if (!isObject(value)) fail(`expected an object with ${JSON.stringify(tag)}, got ${describe(value)}`, path);
    const name = value[tag];
    const names = alts.map((a) => a.properties[tag].const);
    if (name === undefined) fail(`missing ${JSON.stringify(tag)}; one of ${names.join(", ")}`, path);
    const index = names.indexOf(name);
    if (index < 0) {
      const given = typeof name === "string" ? JSON.stringify(name) : describe(name);
      fail(`unknown ${tag} ${given}; expected one of ${names.join(", ")}`, path);
    }
    writeIndex(w, index, path);
    return encodeObject(w, alts[index], value, path, tag);
  }
  // Externally tagged: single-key objects (data variants) and unit names.
  const named = alts.map((a) => {
    if (typeof a?.const === "string") return { name: a.const, unit: true };
    const keys = isObject(a?.properties) ? Object.keys(a.properties) : [];
    if (typesOf(a).includes("object") && keys.length === 1 && a.additionalProperties === false) {
      return { name: keys[0], unit: false, schema: a.properties[keys[0]] };
    }
    if (Array.isArray(a?.enum)) {
      // Undocumented unit variants are grouped into one `enum` ahead of the data variants,
      // which loses their declaration positions: the schema cannot give the borsh index.
      throw new UnsupportedSchema("an enum mixing unit and data variants has no borsh order in its schema", path);
    }
    throw new UnsupportedSchema("a oneOf that is neither a tagged enum nor an Option", path);
  });
  if (typeof value === "string") {
    const index = named.findIndex((n) => n.unit && n.name === value);
    if (index < 0) fail(`unknown variant ${describe(value)}`, path);
    return writeIndex(w, index, path);
  }
  if (!isObject(value) || Object.keys(value).length !== 1) {
    fail(`expected one of ${named.map((n) => n.name).join(", ")}, got ${describe(value)}`, path);
  }
  const key = Object.keys(value)[0];
  const index = named.findIndex((n) => !n.unit && n.name === key);
  if (index < 0) fail(`unknown variant ${JSON.stringify(key)}`, path);
  writeIndex(w, index, path);
  encodeInto(w, named[index].schema, value[key], `${path}/${key}`);
}

function encodeInteger(w, schema, value, path) {
  const type = INT_FORMATS[schema.format];
  if (!type) throw new UnsupportedSchema(`integer without a known format (${schema.format})`, path);
  let v;
  try {
    v = checkInt(type, value);
  } catch (e) {
    fail(e.message, path);
  }
  if (typeof schema.minimum === "number" && v < BigInt(Math.ceil(schema.minimum))) fail(`${v} is below the minimum ${schema.minimum}`, path);
  if (typeof schema.maximum === "number" && v > BigInt(Math.floor(schema.maximum))) fail(`${v} is above the maximum ${schema.maximum}`, path);
  w.int(type, v);
}

function encodeNumber(w, schema, value, path) {
  const bits = { double: 64, float: 32 }[schema.format];
  if (!bits) throw new UnsupportedSchema(`number without a known format (${schema.format})`, path);
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`expected a finite number, got ${describe(value)}`, path);
  w.float(bits, value);
}

const HEX = /^[0-9a-fA-F]*$/;

function hexBytes(value, len, path) {
  if (!HEX.test(value) || value.length % 2 !== 0 || (len !== undefined && value.length !== 2 * len)) {
    fail(`expected ${len === undefined ? "hex bytes" : `${2 * len} hex digits`}, got ${describe(value)}`, path);
  }
  return unhex(value);
}

function encodeString(w, schema, value, path) {
  if (typeof value !== "string") fail(`expected a string, got ${describe(value)}`, path);
  if (typeof schema.pattern === "string" && !matchesPattern(schema.pattern, value)) {
    fail(`${describe(value)} does not match ${schema.pattern}`, path);
  }
  const chars = [...value].length;
  if (typeof schema.minLength === "number" && chars < schema.minLength) fail(`shorter than ${schema.minLength} characters`, path);
  if (typeof schema.maxLength === "number" && chars > schema.maxLength) fail(`longer than ${schema.maxLength} characters`, path);
  const kind = schema["x-borsh"];
  switch (kind) {
    case undefined:
      w.string(value);
      return;
    case "hash":
      w.raw(hexBytes(value, 32, path));
      return;
    case "bytes":
      w.bytes(hexBytes(value, undefined, path));
      return;
    case "signature":
      w.u8(0).raw(hexBytes(value, 64, path));
      return;
    case "address":
      try {
        w.raw(parseAddress(value));
      } catch (e) {
        fail(e.message, path);
      }
      return;
    case "public_key":
      try {
        w.raw(encodePublicKey(parsePublicKey(value)));
      } catch (e) {
        fail(e.message, path);
      }
      return;
    default:
      throw new UnsupportedSchema(`unknown x-borsh ${JSON.stringify(kind)}`, path);
  }
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function encodeArray(w, schema, value, path) {
  if (!Array.isArray(value)) fail(`expected an array, got ${describe(value)}`, path);
  if (typeof schema.minItems === "number" && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`, path);
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items`, path);
  if (Array.isArray(schema.prefixItems)) {
    if (value.length !== schema.prefixItems.length) fail(`expected ${schema.prefixItems.length} items`, path);
    schema.prefixItems.forEach((s, i) => encodeInto(w, s, value[i], `${path}/${i}`));
    return;
  }
  if (!isObject(schema.items)) throw new UnsupportedSchema("array without an item schema", path);
  const fixed =
    schema["x-borsh"] === "fixed" ||
    (schema["x-borsh"] !== "vec" && typeof schema.minItems === "number" && schema.minItems === schema.maxItems);
  const items = value.map((item, i) => {
    const iw = new Writer();
    encodeInto(iw, schema.items, item, `${path}/${i}`);
    return iw.finish();
  });
  if (schema.uniqueItems === true) {
    // A set: borsh writes its elements in order, which must agree with the Rust `Ord` of the
    // element; for strings that is byte order of the UTF-8, for unsigned integers numeric.
    const t = typesOf(schema.items)[0];
    if (t === "string" && schema.items["x-borsh"] === undefined) {
      const order = value.map((v, i) => i).sort((a, b) => compareBytes(new TextEncoder().encode(value[a]), new TextEncoder().encode(value[b])));
      sortedInto(w, order, items, value, path);
      return;
    }
    if (t === "integer" && String(schema.items.format).startsWith("uint")) {
      const order = value.map((v, i) => i).sort((a, b) => (BigInt(value[a]) < BigInt(value[b]) ? -1 : BigInt(value[a]) > BigInt(value[b]) ? 1 : 0));
      sortedInto(w, order, items, value, path);
      return;
    }
    throw new UnsupportedSchema("sets are supported of strings and unsigned integers only", path);
  }
  if (!fixed) w.len(items.length);
  for (const b of items) w.raw(b);
}

function sortedInto(w, order, items, value, path) {
  for (let i = 1; i < order.length; i++) {
    if (compareBytes(items[order[i - 1]], items[order[i]]) === 0) fail(`duplicate item ${describe(value[order[i]])}`, path);
  }
  w.len(order.length);
  for (const i of order) w.raw(items[i]);
}

function encodeObject(w, schema, value, path, tag) {
  if (!isObject(value)) fail(`expected an object, got ${describe(value)}`, path);
  const props = schema.properties;
  if (!isObject(props)) {
    if (isObject(schema.additionalProperties)) return encodeMap(w, schema.additionalProperties, value, path);
    if (Object.keys(value).length > 0 && schema.additionalProperties === false) fail("expected an empty object", path);
    return;
  }
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(props, key) && value[key] !== undefined) {
        fail(`unknown field ${JSON.stringify(key)}; expected ${Object.keys(props).filter((k) => k !== tag).join(", ")}`, path);
      }
    }
  }
  for (const [name, field] of Object.entries(props)) {
    if (name === tag) continue;
    const here = `${path}/${name}`;
    let v = Object.hasOwn(value, name) ? value[name] : undefined;
    if (v === undefined) {
      if (required.has(name)) fail(`missing field ${JSON.stringify(name)}`, path);
      if (Object.hasOwn(field, "default")) v = field.default;
      else if (optionInner(field) !== undefined) v = null;
      else throw new UnsupportedSchema(`optional field ${JSON.stringify(name)} has no default in the schema`, path);
    }
    encodeInto(w, field, v, here);
  }
}

function encodeMap(w, valueSchema, value, path) {
  const keys = Object.keys(value).filter((k) => value[k] !== undefined);
  const enc = new TextEncoder();
  keys.sort((a, b) => compareBytes(enc.encode(a), enc.encode(b)));
  w.len(keys.length);
  for (const k of keys) {
    w.string(k);
    encodeInto(w, valueSchema, value[k], `${path}/${k}`);
  }
}

/** The call schema of a module description (`GET /v1/modules/{name}`) or the schema itself. */
function callSchemaOf(schema) {
  if (isObject(schema) && isObject(schema.call_schema)) return schema.call_schema;
  return schema;
}

/** The `call` names of a module's call schema, in declaration (= borsh index) order. */
export function callNames(schema) {
  const s = callSchemaOf(schema);
  return (s?.oneOf ?? []).map((v) => v?.properties?.call?.const).filter((n) => typeof n === "string");
}

/**
 * Encode the JSON form of a call (e.g. `{call: "transfer", symbol: "EURc", to: "urbis1…",
 * amount: 250}`) to the module call's borsh bytes, validating it against `schema` (the
 * module's `call_schema`, or its whole description from `GET /v1/modules/{name}`). JSON that
 * does not fit throws a `SchemaMismatch` (`code` `schema_mismatch`). Integers beyond 2^53
 * may be given as BigInt.
 */
export function encodeCall(schema, json) {
  const s = callSchemaOf(schema);
  if (!isObject(s) || !Array.isArray(s.oneOf)) throw new UnsupportedSchema("not a module call schema");
  if (!isObject(json)) fail(`a call is an object with "call", got ${describe(json)}`, "");
  return encodeValue(s, json);
}

/** Encode any JSON value to borsh by a schema (the building block of `encodeCall`). */
export function encodeValue(schema, value) {
  const w = new Writer();
  encodeInto(w, schema, value, "");
  return w.finish();
}
