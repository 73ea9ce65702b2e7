// A real STARTTLS server (the smtp-server library) that presents a chosen certificate chain: the
// DANE tests need chains Exim does not present (an issuer that is not a CA, a leaf that a DANE-TA
// record names). It accepts STARTTLS and nothing else matters; `stop()` closes it.
import { SMTPServer } from 'smtp-server';
import type { DaneChain } from './fixtures';

export interface ChainServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Listens on `host:port` (port 0 picks a free one) with STARTTLS presenting `chain`. */
export async function startChainServer(host: string, port: number, chain: DaneChain): Promise<ChainServer> {
  const server = new SMTPServer({
    secure: false,
    key: chain.keyPem,
    cert: chain.chainPem,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    banner: 'DANE chain server',
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    host,
    port: bound,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
