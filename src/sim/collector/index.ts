// The embedded OTLP trace receiver: gRPC and OTLP/HTTP (protobuf and JSON), decoded into spans
// that keep their resource. See receiver.ts.
export { matches, OtlpReceiver, type OtlpReceiverOptions, type SpanFilter, type SpanListener } from './receiver.js';
export { type Attributes, type AttrValue, type Protocol, type ReceivedSpan } from './spans.js';
export { nodeOf, SpanTally, type TallyEntry } from './tally.js';
