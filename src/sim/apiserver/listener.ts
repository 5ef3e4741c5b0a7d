// One port, two protocols: TLS (what kubectl needs: it sends a kubeconfig's credentials only over
// https) and plain HTTP (cheap for in-process clients and tests). The first byte of a connection
// tells them apart: a TLS handshake starts with 0x16.

import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type Server, type Socket, createServer as createNetServer } from 'node:net';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 / localhost (kubeconfigs skip its verification). */
export async function selfSignedCert(): Promise<TlsMaterial> {
  const p = await generate([{ name: 'commonName', value: 'kto-sim-apiserver' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  return { key: p.private, cert: p.cert };
}

const TLS_HANDSHAKE = 0x16;

/** A net.Server that hands each connection to the HTTP or the HTTPS server by its first byte. */
export function dualProtocolServer(handler: RequestListener, tls: TlsMaterial, onSocket: (s: Socket) => void): Server {
  const http = createHttpServer(handler);
  const https = createHttpsServer({ key: tls.key, cert: tls.cert }, handler);
  http.keepAliveTimeout = 30_000;
  https.keepAliveTimeout = 30_000;
  return createNetServer((socket) => {
    onSocket(socket);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (first[0] === TLS_HANDSHAKE ? https : http).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
}
