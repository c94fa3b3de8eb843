/**
 * One animation clock for every live view (meters, spectrograms), at a modest rate.
 * Why: on a two-core laptop the page's drawing competes with the model worker for the CPU;
 * at 60 fps the views cost more than the denoiser and pushed model steps past their deadline.
 * 30 updates a second look just as live. Paused by the browser while the tab is hidden.
 */
const FPS = 30;
const subscribers = new Set<() => void>();
let raf = 0;
let lastTick = 0;

function tick(now: number): void {
  raf = requestAnimationFrame(tick);
  if (now - lastTick < 1000 / FPS - 2) return; // 2 ms of slack: rAF times jitter
  lastTick = now;
  for (const draw of subscribers) draw();
}

/** Call `draw` on every tick of the shared clock; returns the unsubscribe function. */
export function onFrame(draw: () => void): () => void {
  subscribers.add(draw);
  if (!raf) raf = requestAnimationFrame(tick);
  return () => {
    subscribers.delete(draw);
    if (subscribers.size === 0) {
      cancelAnimationFrame(raf);
      raf = 0;
    }
  };
}
