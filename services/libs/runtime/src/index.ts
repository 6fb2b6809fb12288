export { type Clock, sleep, systemClock, systemTimers, type TimerHandle, type Timers } from "./clock.ts";
export { type Random, SeededRandom, systemRandom } from "./random.ts";
