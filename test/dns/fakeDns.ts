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
//
// Modes for answers a broken or hostile server sends, which the wire client must never read as "no
// data": 'dot-label' answers an MX query for NAME with an MX record owned by the one label whose
// octets are NAME's text (`dotlabel\.test.` as kdig prints it), which is not NAME; 'tc-always' sets
// TC and sends no records, over UDP and over TCP; 'tcp-wrong-id' sets TC over UDP and answers over TCP
// with another ID; 'short-rdata' answers MX with a 1-octet RDATA and AAAA with a 2-octet one, each the
// last record of the message; 'cname-chain' answers an MX query for NAME whose first label is "chainN"
// with N CNAMEs (NAME → c1.NAME → … → cN.NAME) and `cN.NAME MX 10 mx.NAME`. In these modes A queries
// get 127.0.0.1 and anything else no records.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export type FakeDnsMode = 'servfail' | 'refused' | 'silent' | 'wrong-question' | 'foreign-mx' | 'dot-label' | 'tc-always' | 'tcp-wrong-id' | 'short-rdata' | 'cname-chain';

/** The modes that answer over TCP too (on the same port as UDP). */
const TCP_MODES: ReadonlySet<FakeDnsMode> = new Set(['wrong-question', 'tc-always', 'tcp-wrong-id']);

/** The address the forged answers hand out. */
export const FORGED_ADDRESS = '192.0.2.66';

/** The offset just after the question of a query (RFC 1035 §4.1.2), or undefined. */
function questionEnd(msg: Buffer): number | undefined {
  let end = 12;
  while (end < msg.length && msg[end] !== 0) end += msg[end] + 1;
  return end + 5 <= msg.length ? end + 5 : undefined;
}

function header(id: number, rcode: number, answers: number, tc = false): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8180 | (tc ? 0x0200 : 0) | rcode, 2); // QR, RD, RA, and TC when asked
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

/** The asked name as text (labels joined by "."), lower case. */
function askedName(query: Buffer, end: number): string {
  const labels: string[] = [];
  for (let p = 12; p < end - 5; p += 1 + query[p]) labels.push(query.toString('latin1', p + 1, p + 1 + query[p]).toLowerCase());
  return labels.join('.');
}

/** The answer of the modes for broken or hostile servers; `tcp` says which transport asks. */
function brokenAnswer(mode: FakeDnsMode, query: Buffer, tcp: boolean): Buffer | undefined {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const id = query.readUInt16BE(0);
  const question = query.subarray(12, end);
  const type = query.readUInt16BE(end - 4);
  const asked = Buffer.from([0xc0, 12]);
  const name = askedName(query, end);
  if (mode === 'tc-always') return Buffer.concat([header(id, 0, 0, true), question]);
  if (mode === 'tcp-wrong-id') return Buffer.concat([header(tcp ? id ^ 0x0101 : id, 0, 0, !tcp), question]);
  const answers: Buffer[] = [];
  if (type === 1) {
    answers.push(record(asked, 1, Buffer.from([127, 0, 0, 1])));
  } else if (mode === 'dot-label' && type === 15) {
    // One label holding the whole text of the asked name, dots included (RFC 1035 §3.1 allows any octet).
    const owner = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), Buffer.from([0])]);
    answers.push(record(owner, 15, Buffer.concat([Buffer.from([0, 10]), wireName('mx.evil.test')])));
  } else if (mode === 'short-rdata' && (type === 15 || type === 28)) {
    answers.push(record(asked, type, Buffer.from(type === 15 ? [0] : [0x20, 0x01])));
  } else if (mode === 'cname-chain' && type === 15) {
    const links = Number(/^chain(\d+)$/.exec(name.split('.')[0])?.[1] ?? 0);
    let owner = name;
    for (let i = 1; i <= links; i++) {
      answers.push(record(wireName(owner), 5, wireName(`c${i}.${name}`)));
      owner = `c${i}.${name}`;
    }
    answers.push(record(wireName(owner), 15, Buffer.concat([Buffer.from([0, 10]), wireName(`mx.${name}`)])));
  }
  return Buffer.concat([header(id, 0, answers.length), question, ...answers]);
}

export async function startFakeDns(mode: FakeDnsMode): Promise<{ address: string; port: number; stop(): Promise<void> }> {
  let socket = dgram.createSocket('udp4');
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (mode === 'silent' || msg.length < 12) return;
    if (mode === 'dot-label' || mode === 'tc-always' || mode === 'tcp-wrong-id' || mode === 'short-rdata' || mode === 'cname-chain') {
      const answer = brokenAnswer(mode, msg, false);
      if (answer) socket.send(answer, rinfo.port, rinfo.address);
      return;
    }
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
  };
  // Over TCP (in TCP_MODES only), on the same port: in wrong-question mode the forged answer alone.
  let tcp: net.Server | undefined;
  const connections = new Set<net.Socket>();
  const makeTcp = (): net.Server =>
    net.createServer((c) => {
      connections.add(c);
      c.on('close', () => connections.delete(c));
      c.on('error', () => undefined);
      let buffer = Buffer.alloc(0);
      c.on('data', (d) => {
        buffer = Buffer.concat([buffer, d]);
        if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
        const query = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
        const forged = mode === 'wrong-question' ? forgedAnswer(query) : brokenAnswer(mode, query, true);
        if (!forged) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(forged.length, 0);
        c.write(Buffer.concat([len, forged]));
      });
    });
  // The system picks the UDP port; TCP must listen on the same number, which another socket may
  // hold (a client's ephemeral port): then both are bound again on a new port. A bind or listen
  // error is awaited, never left unhandled (that would leave `before` waiting for ever).
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', onMessage);
    port = (socket.address() as AddressInfo).port;
    if (!TCP_MODES.has(mode)) break;
    const server = makeTcp();
    const listened = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listened) {
      tcp = server;
      break;
    }
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (attempt >= 20) throw new Error('no port free for both UDP and TCP on 127.0.0.1');
    socket = dgram.createSocket('udp4');
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
