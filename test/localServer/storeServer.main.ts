// A capture server's store in a process of its own, for storeSharedFolder.test.ts: it opens the
// folder given as its first argument, stores two messages (the first with its files written, its
// record still journaled because the second waits for its files; with `all-written` as the second
// argument, both with their files, so its journal holds nothing needed), prints their ids as one
// line of JSON, and then keeps running, its journal open, until it is killed.
import { Readable } from 'node:stream';
import { MessageStore } from '../../client/src/localServer/messageStore';

const envelope = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'], mailParameters: {}, rcptParameters: [{}], remoteAddress: '127.0.0.1', remotePort: 1, helo: 'c.example.test', tls: null, auth: null, bodyType: '7bit' as const, smtpUtf8: false, transmissionType: 'ESMTP' };

async function main(dir: string, allWritten: boolean): Promise<void> {
  // Files are written only when asked for (get()), so the journal keeps both records.
  const store = new MessageStore(dir, { quietMs: 3_600_000, maxWaitMs: 3_600_000 });
  await store.init();
  const ids: string[] = [];
  for (const subject of ['written', 'waiting']) {
    const incoming = store.begin();
    await incoming.receive(Readable.from([Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`, 'latin1')]));
    ids.push((await incoming.commit(envelope)).id);
  }
  await store.get(ids[0]);
  if (allWritten) await store.get(ids[1]);
  process.stdout.write(`${JSON.stringify({ written: ids[0], waiting: ids[1] })}\n`);
  // Runs until killed.
  setInterval(() => undefined, 60_000);
}

main(process.argv[2], process.argv[3] === 'all-written').catch((error: unknown) => {
  process.stderr.write(`storeServer.main: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
