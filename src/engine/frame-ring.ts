/**
 * Frames between the audio thread and the model worker through SharedArrayBuffers, when the
 * page is cross-origin isolated: the worklet writes each frame's magnitudes into a slot and
 * bumps `written`; the worker wakes (Atomics.waitAsync), writes the mask into the same slot of
 * the mask ring and bumps `masked`. No messages, no allocation, no copies through the event loop.
 */
export const RING_SLOTS = 16;
export const WRITTEN = 0; // frames whose magnitudes are in the ring
export const MASKED = 1; // frames whose masks are in the ring

export interface FrameRingBuffers {
  control: SharedArrayBuffer; // Int32Array: WRITTEN, MASKED
  magnitudes: SharedArrayBuffer; // Float32Array: RING_SLOTS × bins
  masks: SharedArrayBuffer; // Float32Array: RING_SLOTS × bins
  maskFrames: SharedArrayBuffer; // Int32Array: RING_SLOTS, which frame each mask slot holds
}

export function createFrameRing(bins: number): FrameRingBuffers {
  return {
    control: new SharedArrayBuffer(2 * 4),
    magnitudes: new SharedArrayBuffer(RING_SLOTS * bins * 4),
    masks: new SharedArrayBuffer(RING_SLOTS * bins * 4),
    maskFrames: new SharedArrayBuffer(RING_SLOTS * 4),
  };
}

/** Typed views over the ring, with one view per slot made up front (no allocation later). */
export class FrameRing {
  readonly control: Int32Array;
  readonly maskFrames: Int32Array;
  readonly magnitudeSlots: Float32Array[];
  readonly maskSlots: Float32Array[];

  constructor(buffers: FrameRingBuffers, bins: number) {
    this.control = new Int32Array(buffers.control);
    this.maskFrames = new Int32Array(buffers.maskFrames);
    const mags = new Float32Array(buffers.magnitudes);
    const masks = new Float32Array(buffers.masks);
    this.magnitudeSlots = Array.from({ length: RING_SLOTS }, (_, s) => mags.subarray(s * bins, (s + 1) * bins));
    this.maskSlots = Array.from({ length: RING_SLOTS }, (_, s) => masks.subarray(s * bins, (s + 1) * bins));
  }
}
