// The clock moved to src/util/clock.ts; these names stay for the test helpers that import them.
export { type Clock as TimerClock, realClock as realTimerClock } from './util/clock.js';
