// Borsh (https://borsh.io) writing: the binary encoding of Urbis transactions and of every
// module's calls. Little-endian fixed-width integers, `u32` length prefixes for strings and
// sequences, one byte for `bool`, option tags and enum variant indexes.
// Plain ES module; runs unchanged in a browser and in Node (≥ 20).

import { concat, utf8 } from "./bytes.js";

const INT_BITS = Object.freeze({
  u8: [8, false],
  u16: [16, false],
  u32: [32, false],
  u64: [64, false],
  u128: [128, false],
  i8: [8, true],
  i16: [16, true],
  i32: [32, true],
  i64: [64, true],
  i128: [128, true],
});

/** The integer type names `Writer.int` accepts: `u8` … `u128`, `i8` … `i128`. */
export const INT_TYPES = Object.freeze(Object.keys(INT_BITS));

/**
 * `value` as a BigInt if it is an integer in the range of `type` (a number must be a safe
 * integer: larger ones have already lost precision, pass a BigInt); throws a RangeError or
 * TypeError otherwise.
 */
export function checkInt(type, value) {
  const spec = INT_BITS[type];
  if (!spec) throw new TypeError(`unknown integer type ${type}`);
  const [bits, signed] = spec;
  let v;
  if (typeof value === "bigint") {
    v = value;
  } else if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new TypeError(`${value} is not an integer`);
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`${value} is beyond 2^53 and has lost precision; pass a BigInt`);
    }
    v = BigInt(value);
  } else {
    throw new TypeError(`expected an integer, got ${describe(value)}`);
  }
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (v < min || v > max) throw new RangeError(`${v} is out of range for ${type} (${min} to ${max})`);
  return v;
}

/** A short description of a JSON value's kind, for error messages. */
export function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  const t = typeof value;
  if (t === "object") return "an object";
  if (t === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  return `${t} ${String(value)}`;
}

/** Accumulates borsh output; `finish()` returns the bytes. */
export class Writer {
  constructor() {
    this.parts = [];
  }

  /** Raw bytes, no length prefix (fixed-size arrays, digests, addresses). */
  raw(bytes) {
    this.parts.push(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
    return this;
  }

  /** An integer of `type` (`u8` … `u128`, `i8` … `i128`), little-endian, two's complement. */
  int(type, value) {
    const v = checkInt(type, value);
    const bits = INT_BITS[type][0];
    const out = new Uint8Array(bits / 8);
    let x = BigInt.asUintN(bits, v);
    for (let i = 0; i < out.length; i++) {
      out[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    return this.raw(out);
  }

  u8(v) {
    return this.int("u8", v);
  }

  u32(v) {
    return this.int("u32", v);
  }

  u64(v) {
    return this.int("u64", v);
  }

  bool(v) {
    if (typeof v !== "boolean") throw new TypeError(`expected a boolean, got ${describe(v)}`);
    return this.raw(Uint8Array.of(v ? 1 : 0));
  }

  /** A 64-bit (`f64`) or 32-bit (`f32`) float; borsh refuses NaN. */
  float(bits, v) {
    if (typeof v !== "number") throw new TypeError(`expected a number, got ${describe(v)}`);
    if (Number.isNaN(v)) throw new RangeError("NaN has no borsh encoding");
    const out = new Uint8Array(bits / 8);
    const view = new DataView(out.buffer);
    if (bits === 64) view.setFloat64(0, v, true);
    else view.setFloat32(0, v, true);
    return this.raw(out);
  }

  /** A sequence's or a string's `u32` length prefix. */
  len(n) {
    return this.int("u32", n);
  }

  /** `Vec<u8>`: length, then the bytes. */
  bytes(b) {
    return this.len(b.length).raw(b);
  }

  /** `String`: UTF-8 length in bytes, then the UTF-8. */
  string(s) {
    if (typeof s !== "string") throw new TypeError(`expected a string, got ${describe(s)}`);
    return this.bytes(utf8(s));
  }

  finish() {
    return concat(...this.parts);
  }
}
