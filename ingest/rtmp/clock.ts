/**
 * Time, injected: the server reads the time and arms its timers (handshake, publish start, media idle, end
 * grace) only through a `Clock`, so a test can drive them without waiting.
 */

/** A timer that can be cancelled; cancelling twice, or after it fired, does nothing. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Call `callback` once after `ms`. A timer must not keep the process alive. */
  setTimeout(callback: () => void, ms: number): Timer;
}

/** `Date.now()` and unref'd `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** The timer of nothing: what a field holds before its timer is armed. */
export const NO_TIMER: Timer = { cancel() {} };
