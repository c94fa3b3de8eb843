/**
 * One animation clock for every live view (meters, spectrograms), at a modest rate.
 * Why: on a two-core laptop the page's drawing competes with the model worker for the CPU;
 * at 60 fps the views cost more than the denoiser and pushed model steps past their deadline.
 * 20 updates a second read as live; measured in the benchmark's loaded soak, going from 30 to
 * 20 took the share of model steps over 2 ms from 0.63 % to 0.37 % (2-minute runs).
 *
 * A timer asks for each frame, rather than a requestAnimationFrame loop that skips every other
 * one: a pending animation frame keeps the browser's whole frame pipeline (page, compositor,
 * GPU process) ticking at the display's rate even on frames where nothing is drawn.
 * Hidden tabs run no animation frames, so the views stop there too.
 */
export const FPS = 20;
const subscribers = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;
let framePending = false;

function drawAll(): void {
  framePending = false;
  for (const draw of subscribers) draw();
}

function requestFrame(): void {
  if (framePending) return; // e.g. a hidden tab, where the last request is still waiting
  framePending = true;
  requestAnimationFrame(drawAll);
}

/** Call `draw` on every tick of the shared clock; returns the unsubscribe function. */
export function onFrame(draw: () => void): () => void {
  subscribers.add(draw);
  timer ??= setInterval(requestFrame, 1000 / FPS);
  return () => {
    subscribers.delete(draw);
    if (subscribers.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
