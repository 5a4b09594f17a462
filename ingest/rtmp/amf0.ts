/**
 * AMF0 (Action Message Format, version 0): the encoding of RTMP command messages (type 20) and of FLV script
 * data (type 18, `onMetaData`). Decoding is defensive: every length is checked against the bytes that are
 * really there before anything is read or allocated, nesting is capped, and anything unexpected is an
 * `Amf0Error`, never an out-of-range read.
 */

/** Type markers (AMF0 specification §2.1). */
export const Amf0Marker = {
  Number: 0x00,
  Boolean: 0x01,
  String: 0x02,
  Object: 0x03,
  MovieClip: 0x04,
  Null: 0x05,
  Undefined: 0x06,
  Reference: 0x07,
  EcmaArray: 0x08,
  ObjectEnd: 0x09,
  StrictArray: 0x0a,
  Date: 0x0b,
  LongString: 0x0c,
  Unsupported: 0x0d,
  RecordSet: 0x0e,
  XmlDocument: 0x0f,
  TypedObject: 0x10,
  AvmPlus: 0x11,
} as const;

/** A decoded or encodable AMF0 value. Objects, ECMA arrays and typed objects all decode to plain objects. */
export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Object | Amf0EcmaArray | Amf0Value[];

export interface Amf0Object {
  [key: string]: Amf0Value;
}

/**
 * Encode-only wrapper: `encodeAmf0(new Amf0EcmaArray({ duration: 0 }))` writes an ECMA array (marker 0x08),
 * as FLV `onMetaData` does. Decoding an ECMA array gives a plain object.
 */
export class Amf0EcmaArray {
  constructor(readonly entries: Amf0Object) {}
}

export class Amf0Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Amf0Error';
  }
}

export interface Amf0DecodeOptions {
  /** Deepest nesting of objects/arrays accepted. Default 16. */
  readonly maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 16;

/** True for a decoded AMF0 object (not null, not an array, not a Date). */
export function isAmf0Object(value: Amf0Value): value is Amf0Object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Amf0EcmaArray);
}

class Cursor {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset: number,
    readonly maxDepth: number,
  ) {
    this.offset = offset;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.buf.length - this.offset < n) {
      throw new Amf0Error(`truncated ${what} at offset ${this.offset}`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  utf8(length: number, what: string): string {
    this.need(length, what);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
}

function readProperties(c: Cursor, depth: number): Amf0Object {
  // A null prototype: a key such as "__proto__" from the wire stays an ordinary property.
  const obj = Object.create(null) as Amf0Object;
  for (;;) {
    const keyLength = c.u16('property name length');
    if (keyLength === 0) {
      c.need(1, 'object end marker');
      if (c.buf[c.offset] === Amf0Marker.ObjectEnd) {
        c.offset += 1;
        return obj;
      }
    }
    const key = c.utf8(keyLength, 'property name');
    obj[key] = readValue(c, depth + 1);
  }
}

function readValue(c: Cursor, depth: number): Amf0Value {
  if (depth > c.maxDepth) throw new Amf0Error(`nesting deeper than ${c.maxDepth}`);
  const marker = c.u8('type marker');
  switch (marker) {
    case Amf0Marker.Number:
      return c.f64('number');
    case Amf0Marker.Boolean:
      return c.u8('boolean') !== 0;
    case Amf0Marker.String:
      return c.utf8(c.u16('string length'), 'string');
    case Amf0Marker.LongString:
    case Amf0Marker.XmlDocument:
      return c.utf8(c.u32('long string length'), 'long string');
    case Amf0Marker.Object:
      return readProperties(c, depth);
    case Amf0Marker.TypedObject:
      c.utf8(c.u16('class name length'), 'class name');
      return readProperties(c, depth);
    case Amf0Marker.EcmaArray:
      c.u32('ECMA array count'); // a hint only; the end marker terminates the array
      return readProperties(c, depth);
    case Amf0Marker.StrictArray: {
      const count = c.u32('strict array count');
      // Every value takes at least one byte: a count larger than what is left is a lie, refuse it up front.
      if (count > c.buf.length - c.offset) throw new Amf0Error(`strict array count ${count} exceeds the remaining bytes`);
      const out: Amf0Value[] = [];
      for (let i = 0; i < count; i++) out.push(readValue(c, depth + 1));
      return out;
    }
    case Amf0Marker.Date: {
      const ms = c.f64('date');
      c.u16('date time zone');
      return new Date(ms);
    }
    case Amf0Marker.Null:
      return null;
    case Amf0Marker.Undefined:
    case Amf0Marker.Unsupported:
      return undefined;
    case Amf0Marker.ObjectEnd:
      throw new Amf0Error(`unexpected object end marker at offset ${c.offset - 1}`);
    default:
      // MovieClip, Reference, RecordSet, AVM+ (AMF3 switch) and unknown markers.
      throw new Amf0Error(`unsupported AMF0 type marker 0x${marker.toString(16).padStart(2, '0')} at offset ${c.offset - 1}`);
  }
}

/** Decode one value at `offset`. Returns the value and the offset just after it. Throws `Amf0Error`. */
export function decodeAmf0Value(buf: Buffer, offset = 0, options: Amf0DecodeOptions = {}): { value: Amf0Value; offset: number } {
  const c = new Cursor(buf, offset, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const value = readValue(c, 0);
  return { value, offset: c.offset };
}

/** Decode every value in `buf` (a command message body is a sequence of values). Throws `Amf0Error`. */
export function decodeAmf0(buf: Buffer, options: Amf0DecodeOptions = {}): Amf0Value[] {
  const c = new Cursor(buf, 0, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const values: Amf0Value[] = [];
  while (c.offset < buf.length) values.push(readValue(c, 0));
  return values;
}

// ---- encoding ----

function u8(v: number): Buffer {
  return Buffer.from([v]);
}

function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v);
  return b;
}

function f64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(v);
  return b;
}

function shortUtf8(s: string, what: string): Buffer[] {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 0xffff) throw new Amf0Error(`${what} longer than 65535 bytes`);
  return [u16(bytes.length), bytes];
}

function writeProperties(out: Buffer[], obj: Amf0Object): void {
  for (const [key, value] of Object.entries(obj)) {
    out.push(...shortUtf8(key, 'property name'));
    writeValue(out, value);
  }
  out.push(Buffer.from([0x00, 0x00, Amf0Marker.ObjectEnd]));
}

function writeValue(out: Buffer[], value: Amf0Value): void {
  if (value === null) {
    out.push(u8(Amf0Marker.Null));
  } else if (value === undefined) {
    out.push(u8(Amf0Marker.Undefined));
  } else if (typeof value === 'number') {
    out.push(u8(Amf0Marker.Number), f64(value));
  } else if (typeof value === 'boolean') {
    out.push(u8(Amf0Marker.Boolean), u8(value ? 1 : 0));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length <= 0xffff) out.push(u8(Amf0Marker.String), u16(bytes.length), bytes);
    else out.push(u8(Amf0Marker.LongString), u32(bytes.length), bytes);
  } else if (value instanceof Date) {
    out.push(u8(Amf0Marker.Date), f64(value.getTime()), u16(0));
  } else if (Array.isArray(value)) {
    out.push(u8(Amf0Marker.StrictArray), u32(value.length));
    for (const v of value) writeValue(out, v);
  } else if (value instanceof Amf0EcmaArray) {
    out.push(u8(Amf0Marker.EcmaArray), u32(Object.keys(value.entries).length));
    writeProperties(out, value.entries);
  } else if (typeof value === 'object') {
    out.push(u8(Amf0Marker.Object));
    writeProperties(out, value);
  } else {
    throw new Amf0Error(`cannot encode a ${typeof value} as AMF0`);
  }
}

/** Encode values one after another, as a command message body or FLV script data. */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const out: Buffer[] = [];
  for (const v of values) writeValue(out, v);
  return Buffer.concat(out);
}
