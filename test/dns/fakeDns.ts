// A tiny DNS server for answers no real server sends: every query answered with one fixed failure
// (SERVFAIL or REFUSED) or not at all, to check that DNS failures are reported as failures and never
// as "no record"; or, in 'wrong-question' mode, a forged answer first (the query's ID, another
// question, an A record 192.0.2.66) and then the real one (the question echoed with its letters'
// case flipped, NXDOMAIN), over UDP; over TCP only the forged one (RFC 5452 §9.1). In 'foreign-mx'
// mode it answers an MX query for NAME with `NAME MX 10 mx.NAME` and also an MX record owned by
// another name (`evil.test MX 5 mx.evil.test`), which no real server puts in that answer (Knot
// answers only for the name asked, Unbound scrubs such records), or with the foreign one alone when
// NAME's first label is "onlyforeign"; A queries with 127.0.0.1; anything else with no records
// (RFC 1034 §3.6.2, RFC 5452 §9.1).
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export type FakeDnsMode = 'servfail' | 'refused' | 'silent' | 'wrong-question' | 'foreign-mx';

/** The address the forged answers hand out. */
export const FORGED_ADDRESS = '192.0.2.66';

/** The offset just after the question of a query (RFC 1035 §4.1.2), or undefined. */
function questionEnd(msg: Buffer): number | undefined {
  let end = 12;
  while (end < msg.length && msg[end] !== 0) end += msg[end] + 1;
  return end + 5 <= msg.length ? end + 5 : undefined;
}

function header(id: number, rcode: number, answers: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(answers, 6);
  return h;
}

/** An answer with the query's ID but the question evil.test, with one A record. */
function forgedAnswer(query: Buffer): Buffer | undefined {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const name = Buffer.from([4, ...Buffer.from('evil'), 4, ...Buffer.from('test'), 0]);
  const typeClass = query.subarray(end - 4, end);
  const a = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...FORGED_ADDRESS.split('.').map(Number)]);
  return Buffer.concat([header(query.readUInt16BE(0), 0, 1), name, typeClass, a]);
}

/** The real answer: the same question with its ASCII letters' case flipped, NXDOMAIN. */
function genuineAnswer(query: Buffer): Buffer | undefined {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const question = Buffer.from(query.subarray(12, end));
  for (let i = 0; i < question.length - 4; i++) {
    const c = question[i];
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) question[i] = c ^ 0x20;
  }
  return Buffer.concat([header(query.readUInt16BE(0), 3, 0), question]);
}

/** The wire form of a name written as text (ASCII labels). */
function wireName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

/** One resource record of class IN and TTL 60 (RFC 1035 §4.1.3). */
function record(owner: Buffer, type: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

/** The 'foreign-mx' answer: the asked name's MX plus one owned by evil.test; A 127.0.0.1; else no data. */
function foreignMxAnswer(query: Buffer): Buffer | undefined {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const question = query.subarray(12, end);
  const type = query.readUInt16BE(end - 4);
  const asked = Buffer.from([0xc0, 12]);
  const answers: Buffer[] = [];
  // A name whose first label is "onlyforeign" gets the foreign MX record alone.
  const onlyForeign = query.subarray(13, 13 + query[12]).toString('latin1').toLowerCase() === 'onlyforeign';
  if (type === 15) {
    // "mx" followed by a pointer to the asked name: mx.NAME.
    if (!onlyForeign) answers.push(record(asked, 15, Buffer.concat([Buffer.from([0, 10, 2]), Buffer.from('mx'), asked])));
    answers.push(record(wireName('evil.test'), 15, Buffer.concat([Buffer.from([0, 5]), wireName('mx.evil.test')])));
  } else if (type === 1) {
    answers.push(record(asked, 1, Buffer.from([127, 0, 0, 1])));
  }
  return Buffer.concat([header(query.readUInt16BE(0), 0, answers.length), question, ...answers]);
}

export async function startFakeDns(mode: FakeDnsMode): Promise<{ address: string; port: number; stop(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (mode === 'silent' || msg.length < 12) return;
    if (mode === 'foreign-mx') {
      const answer = foreignMxAnswer(msg);
      if (answer) socket.send(answer, rinfo.port, rinfo.address);
      return;
    }
    if (mode === 'wrong-question') {
      const forged = forgedAnswer(msg);
      const genuine = genuineAnswer(msg);
      if (forged && genuine) {
        socket.send(forged, rinfo.port, rinfo.address, () => socket.send(genuine, rinfo.port, rinfo.address));
      }
      return;
    }
    const reply = Buffer.from(msg);
    // QR=1, keep the opcode and RD; RA=1 and RCODE 2 (SERVFAIL) or 5 (REFUSED) (RFC 1035 §4.1.1).
    reply[2] = 0x80 | (msg[2] & 0x79);
    reply[3] = 0x80 | (mode === 'servfail' ? 2 : 5);
    // No answer, authority or additional records; drop any EDNS OPT record that followed.
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    let end = 12;
    while (end < reply.length && reply[end] !== 0) end += reply[end] + 1;
    socket.send(reply.subarray(0, end + 5), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = (socket.address() as AddressInfo).port;
  // Over TCP (wrong-question mode only), on the same port: the forged answer alone.
  let tcp: net.Server | undefined;
  const connections = new Set<net.Socket>();
  if (mode === 'wrong-question') {
    tcp = net.createServer((c) => {
      connections.add(c);
      c.on('close', () => connections.delete(c));
      c.on('error', () => undefined);
      let buffer = Buffer.alloc(0);
      c.on('data', (d) => {
        buffer = Buffer.concat([buffer, d]);
        if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
        const forged = forgedAnswer(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        if (!forged) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(forged.length, 0);
        c.write(Buffer.concat([len, forged]));
      });
    });
    await new Promise<void>((resolve) => tcp!.listen(port, '127.0.0.1', resolve));
  }
  return {
    address: `127.0.0.1:${port}`,
    port,
    async stop() {
      for (const c of connections) c.destroy();
      if (tcp) await new Promise<void>((resolve) => tcp!.close(() => resolve()));
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
