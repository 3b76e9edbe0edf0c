/**
 * SHA-1 and HMAC-SHA1 (RFC 3174, RFC 2104) in plain JavaScript.
 *
 * Why not WebCrypto: `crypto.subtle` only exists in secure contexts, and the engine serves this
 * UI over plain http on whatever host name the operator uses, so the challenge response of the
 * login (protocol.md §2.2) must be computed without it.
 *
 * Everything works on Uint8Array; strings are UTF-8 encoded first.
 *
 * Test vectors (checked by tests/web/test_sha1_js.py against Python's hashlib/hmac):
 *   sha1("")    = da39a3ee5e6b4b0d3255bfef95601890afd80709
 *   sha1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
 *   sha1("admin") = d033e22ae348aeb5660fc2140aec35850c4da997
 *   hmacSha1(key = 0x0b * 20, "Hi There") = b617318655057264e28bc0b6fb378c8ef146be00   (RFC 2202)
 *   hmacSha1("key", "The quick brown fox jumps over the lazy dog")
 *                                       = de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9
 */

const BLOCK = 64;

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return new TextEncoder().encode(String(text));
}

/** Lowercase hex of bytes (the engine compares hex case-sensitively, so never uppercase). */
export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Bytes of a hex string; throws on odd length or a non-hex character. */
export function fromHex(hex) {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
    throw new Error(`invalid hex string: ${hex.slice(0, 16)}…`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function rotl(x, n) {
  return (x << n) | (x >>> (32 - n));
}

/** Pad the message as SHA-1 requires: 0x80, zeros, then the 64-bit big-endian bit length. */
function pad(bytes) {
  const total = Math.ceil((bytes.length + 9) / BLOCK) * BLOCK;
  const out = new Uint8Array(total);
  out.set(bytes);
  out[bytes.length] = 0x80;
  const view = new DataView(out.buffer);
  const bits = bytes.length * 8;
  // High 32 bits first; messages here are far below 2^32 bits but stay correct up to 2^53.
  view.setUint32(total - 8, Math.floor(bits / 0x100000000));
  view.setUint32(total - 4, bits >>> 0);
  return out;
}

/** SHA-1 digest (20 bytes) of bytes. */
export function sha1(bytes) {
  const data = pad(bytes instanceof Uint8Array ? bytes : utf8(bytes));
  const view = new DataView(data.buffer);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Int32Array(80);
  for (let off = 0; off < data.length; off += BLOCK) {
    for (let i = 0; i < 16; i += 1) w[i] = view.getInt32(off + i * 4);
    for (let i = 16; i < 80; i += 1) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i += 1) {
      let f;
      let k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (rotl(a, 5) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  h.forEach((v, i) => outView.setUint32(i * 4, v >>> 0));
  return out;
}

/** HMAC-SHA1 (20 bytes) of message bytes under key bytes. */
export function hmacSha1(key, message) {
  let k = key instanceof Uint8Array ? key : utf8(key);
  const msg = message instanceof Uint8Array ? message : utf8(message);
  if (k.length > BLOCK) k = sha1(k);
  const inner = new Uint8Array(BLOCK + msg.length);
  const outer = new Uint8Array(BLOCK + 20);
  for (let i = 0; i < BLOCK; i += 1) {
    const b = i < k.length ? k[i] : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  inner.set(msg, BLOCK);
  outer.set(sha1(inner), BLOCK);
  return sha1(outer);
}

/** Hex SHA-1 of a string's UTF-8 bytes: how evQueue stores and keys passwords. */
export function sha1Hex(text) {
  return toHex(sha1(utf8(text)));
}
