import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, contentLength, type Frame } from '../../../src/sip/transport/framer.ts';

const OPTIONS =
  'OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n' +
  'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n' +
  'Content-Length: 5\r\n' +
  '\r\n' +
  'hello';

function messages(frames: Frame[]): string[] {
  return frames.filter((f) => f.kind === 'message').map((f) => (f.kind === 'message' ? f.data.toString('latin1') : ''));
}

describe('StreamFramer (RFC 3261 §18.3, RFC 5626 §4.4.1)', () => {
  it('MUST split several messages delivered in one chunk', () => {
    const f = new StreamFramer(65535);
    const out = f.push(Buffer.from(OPTIONS + OPTIONS + OPTIONS));
    assert.deepEqual(messages(out), [OPTIONS, OPTIONS, OPTIONS]);
    assert.equal(f.buffered, 0);
  });

  it('MUST reassemble a message delivered byte by byte, emitting it exactly once', () => {
    const f = new StreamFramer(65535);
    const data = Buffer.from(OPTIONS + OPTIONS);
    const got: string[] = [];
    for (let i = 0; i < data.length; i++) {
      const out = messages(f.push(data.subarray(i, i + 1)));
      if (i < OPTIONS.length - 1) assert.equal(out.length, 0, `no message before byte ${i}`);
      got.push(...out);
    }
    assert.deepEqual(got, [OPTIONS, OPTIONS]);
  });

  it('MUST report a double-CRLF ping and ignore a stray CRLF before a message', () => {
    const f = new StreamFramer(65535);
    const out = f.push(Buffer.from('\r\n\r\n' + OPTIONS + '\r\n' + OPTIONS));
    assert.deepEqual(
      out.map((x) => x.kind),
      ['ping', 'message', 'pong', 'message'],
    );
  });

  it('MUST tell a ping split across chunks from a pong', () => {
    const f = new StreamFramer(65535);
    assert.deepEqual(f.push(Buffer.from('\r\n')), []);
    assert.deepEqual(f.push(Buffer.from('\r\n')).map((x) => x.kind), ['ping']);
    assert.deepEqual(f.push(Buffer.from('\r\n'), true).map((x) => x.kind), ['pong']);
  });

  it('MUST fail the stream when Content-Length is missing, handing back the header block', () => {
    const f = new StreamFramer(65535);
    const head = 'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1\r\n\r\n';
    const out = f.push(Buffer.from(head + 'junk'));
    assert.equal(out.length, 1);
    const e = out[0];
    assert.equal(e.kind, 'error');
    if (e.kind === 'error') {
      assert.equal(e.fault, 'missing-content-length');
      assert.equal(e.head?.toString('latin1'), head);
    }
    assert.deepEqual(f.push(Buffer.from(OPTIONS)), [], 'framer stops after an error');
  });

  it('MUST fail the stream when a message exceeds the maximum size', () => {
    const big = new StreamFramer(100);
    assert.deepEqual(big.push(Buffer.from(OPTIONS.replace('Content-Length: 5', 'Content-Length: 500'))).map((x) => x.kind), ['error']);
    const endless = new StreamFramer(100);
    assert.deepEqual(endless.push(Buffer.alloc(60, 0x41)), []);
    const out = endless.push(Buffer.alloc(60, 0x41));
    assert.equal(out[0]?.kind, 'error');
    if (out[0]?.kind === 'error') assert.equal(out[0].fault, 'too-large');
  });

  it('MUST read compact and folded Content-Length and refuse conflicting values', () => {
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nl: 12\r\n\r\n')), 12);
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nContent-Length:\r\n  7\r\n\r\n')), 7);
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n')), 'bad');
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nContent-Length: -1\r\n\r\n')), 'bad');
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nContent-Length: 99999999999999\r\n\r\n')), 'bad');
    assert.equal(contentLength(Buffer.from('INVITE x SIP/2.0\r\nX-Content-Length: 3\r\n\r\n')), 'missing');
  });

  it('MUST never throw on random bytes', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const alphabet = Buffer.from('\r\n:Content-Lngth l0123456789 SIP/2.0 INVITE');
    for (let round = 0; round < 300; round++) {
      const f = new StreamFramer(2000);
      for (let k = 0; k < 20; k++) {
        const len = rnd() % 64;
        const chunk = Buffer.alloc(len);
        for (let i = 0; i < len; i++) chunk[i] = rnd() % 3 === 0 ? rnd() % 256 : alphabet[rnd() % alphabet.length];
        f.push(chunk, rnd() % 2 === 0);
      }
    }
  });
});
