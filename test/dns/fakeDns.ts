// A tiny UDP DNS server that answers every query with one fixed failure (SERVFAIL or REFUSED) or not
// at all, to check that DNS failures are reported as failures and never as "no record".
import * as dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export type FakeDnsMode = 'servfail' | 'refused' | 'silent';

export async function startFakeDns(mode: FakeDnsMode): Promise<{ address: string; stop(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (mode === 'silent' || msg.length < 12) return;
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
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
