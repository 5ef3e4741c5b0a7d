// An OTLP/gRPC receiver in its own process, so a benchmark measures the exporting side alone.
// Prints "listening HOST:PORT"; on SIGTERM prints "received N" and exits.
import { OtlpReceiver } from '../src/sim/collector/index.js';

const r = await OtlpReceiver.start({ httpPort: null, maxSpans: 1_000 });
process.stdout.write(`listening ${r.kubeletEndpoint}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`received ${r.received}\n`);
  void r.stop().then(() => process.exit(0));
});
