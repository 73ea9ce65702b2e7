// A DNS server that refuses every question and writes each one, as "NAME TYPE", to a log file.
//
// scripts/closed-network.sh puts it on the system resolver's addresses inside a network namespace,
// so that the suite's use of the machine's resolver is seen and refused at once, the same on every
// machine. (A CI machine's resolver may never answer names it does not know, and a test that asks
// it would then wait for the resolver's timeouts: that is how Exim's own DKIM check once failed
// a run.) Usage: node scripts/refusing-resolver.mjs LOG ADDRESS...
import dgram from 'node:dgram';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const [log, ...addresses] = process.argv.slice(2);
if (log === undefined || addresses.length === 0) {
  process.stderr.write('usage: node scripts/refusing-resolver.mjs LOG ADDRESS...\n');
  process.exit(2);
}

const TYPES = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 43: 'DS', 48: 'DNSKEY', 52: 'TLSA', 64: 'SVCB', 65: 'HTTPS' };

/** Reads the first question of a DNS message (RFC 1035 §4.1.2); undefined when it is malformed. */
function question(message) {
  if (message.length < 12 || message.readUInt16BE(4) < 1) return undefined;
  const labels = [];
  let at = 12;
  while (at < message.length) {
    const length = message[at];
    if (length === 0) {
      at += 1;
      if (at + 4 > message.length) return undefined;
      const type = message.readUInt16BE(at);
      return { name: labels.length === 0 ? '.' : labels.join('.'), type: TYPES[type] ?? `TYPE${type}`, end: at + 4 };
    }
    if (length > 63 || at + 1 + length > message.length) return undefined;
    labels.push(message.subarray(at + 1, at + 1 + length).toString('latin1').replace(/[^\x21-\x7e]/g, '?'));
    at += 1 + length;
  }
  return undefined;
}

/** The answer: the query's ID and question, QR set, RCODE 5 (REFUSED), no records. */
function refusal(message) {
  const asked = question(message);
  if (message.length < 12) return undefined;
  appendFileSync(log, `${asked === undefined ? '(malformed question)' : `${asked.name} ${asked.type}`}\n`);
  const end = asked === undefined ? 12 : asked.end;
  const reply = Buffer.from(message.subarray(0, end));
  reply[2] = 0x80 | (message[2] & 0x79); // QR, the opcode and RD kept.
  reply[3] = 0x05; // REFUSED.
  reply.writeUInt16BE(asked === undefined ? 0 : 1, 4);
  reply.writeUInt32BE(0, 6);
  reply.writeUInt16BE(0, 10);
  return reply;
}

let listening = 0;
const ready = () => {
  listening += 1;
  if (listening === addresses.length * 2) process.stdout.write('ready\n');
};
for (const address of addresses) {
  const udp = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  // A failed bind ends the process (closed-network.sh prints why); a failed send only loses that answer.
  udp.on('error', (error) => {
    process.stderr.write(`refusing-resolver: ${address}: ${error.message}\n`);
    if (listening < addresses.length * 2) process.exit(1);
  });
  udp.on('message', (message, peer) => {
    const reply = refusal(message);
    if (reply !== undefined) udp.send(reply, peer.port, peer.address, () => undefined);
  });
  udp.bind(53, address, ready);
  net
    .createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const reply = refusal(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
          if (reply !== undefined) socket.write(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]));
        }
      });
    })
    .on('error', (error) => {
      process.stderr.write(`refusing-resolver: ${address}: ${error.message}\n`);
      process.exit(1);
    })
    .listen(53, address, ready);
}
