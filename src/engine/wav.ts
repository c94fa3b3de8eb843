/**
 * WAV reading and writing for the CLI and the in-browser file denoiser.
 * Reads PCM 8/16/24/32-bit and IEEE float 32/64 (also WAVE_FORMAT_EXTENSIBLE), any rate and
 * channel count; writes 16-bit, 24-bit or 32-bit float.
 */
export interface DecodedWav {
  sampleRate: number;
  /** One Float32Array per channel, in [-1, 1] for integer input. */
  channels: Float32Array[];
  /** 'pcm16', 'pcm24', 'float32', … */
  encoding: string;
}

const PCM = 1;
const MIN_RATE = 1000;
const MAX_RATE = 768000;
const MAX_CHANNELS = 64;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;

export function decodeWav(bytes: Uint8Array, source = 'input'): DecodedWav {
  const fail = (why: string): never => {
    throw new Error(`${source} is not a readable WAV file: ${why}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') fail('no RIFF/WAVE header');
  let format = 0;
  let channelCount = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: Uint8Array | null = null;
  let seenFormat = false;
  // A chunk id is four printable ASCII characters; used to tolerate a missing pad byte.
  const plausible = (at: number) => at + 8 <= bytes.length && [...bytes.subarray(at, at + 4)].every((b) => b >= 0x20 && b < 0x7f);
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = tag(at);
    let size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'data' && (size === 0 || size === 0xffffffff) && body < bytes.length) {
      // A recorder that stopped before finalising the header: the rest of the file is the audio, as players read it.
      size = bytes.length - body;
    }
    if (id === 'fmt ') {
      if (seenFormat) fail('two format chunks (which one describes the audio?)');
      seenFormat = true;
      if (size < 16) fail('format chunk too short');
      format = view.getUint16(body, true);
      channelCount = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format === EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true);
    } else if (id === 'data') {
      if (data) fail('two data chunks');
      if (!seenFormat) fail('the data chunk comes before the format chunk');
      data = bytes.subarray(body, Math.min(bytes.length, body + size)); // tolerate a truncated last chunk
    }
    const next = body + size + (size & 1);
    at = (size & 1) && !plausible(next) && plausible(next - 1) ? next - 1 : next; // a writer that left out the pad byte
  }
  if (!seenFormat) fail('no format chunk');
  if (channelCount < 1 || channelCount > MAX_CHANNELS) fail(`${channelCount} channels (at most ${MAX_CHANNELS})`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) fail(`sample rate ${sampleRate} Hz (expected ${MIN_RATE}–${MAX_RATE} Hz)`);
  if (!data) fail('no data chunk');
  const supported = (format === PCM && [8, 16, 24, 32].includes(bits)) || (format === FLOAT && [32, 64].includes(bits));
  if (!supported) fail(`unsupported encoding (format ${format}, ${bits}-bit)`);
  const width = bits / 8;
  const frames = Math.floor(data!.length / (width * channelCount));
  if (frames === 0) fail('no audio in the data chunk');
  const channels = Array.from({ length: channelCount }, () => new Float32Array(frames));
  const d = new DataView(data!.buffer, data!.byteOffset, data!.byteLength);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channelCount; c++) {
      const at = (i * channelCount + c) * width;
      let v: number;
      if (format === FLOAT) v = bits === 32 ? d.getFloat32(at, true) : d.getFloat64(at, true);
      else if (bits === 8) v = (d.getUint8(at) - 128) / 128;
      else if (bits === 16) v = d.getInt16(at, true) / 32768;
      else if (bits === 24) v = ((d.getUint8(at + 2) << 24) | (d.getUint8(at + 1) << 16) | (d.getUint8(at) << 8)) / 2147483648;
      else v = d.getInt32(at, true) / 2147483648;
      channels[c][i] = v;
    }
  }
  return { sampleRate, channels, encoding: `${format === FLOAT ? 'float' : 'pcm'}${bits}` };
}

/** Encode channels as WAV: 'float32' (default), 'pcm16' or 'pcm24'. Integers are clipped, never wrapped. */
export function encodeWav(channels: Float32Array[], sampleRate: number, encoding = 'float32'): Uint8Array {
  const bits = encoding === 'pcm16' ? 16 : encoding === 'pcm24' ? 24 : 32;
  const isFloat = bits === 32;
  const width = bits / 8;
  const frames = channels[0]?.length ?? 0;
  const dataSize = frames * channels.length * width;
  const bytes = new Uint8Array(44 + dataSize);
  const view = new DataView(bytes.buffer);
  const writeTag = (at: number, s: string) => [...s].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  writeTag(0, 'RIFF');
  view.setUint32(4, 36 + dataSize, true);
  writeTag(8, 'WAVE');
  writeTag(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, isFloat ? FLOAT : PCM, true);
  view.setUint16(22, channels.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels.length * width, true);
  view.setUint16(32, channels.length * width, true);
  view.setUint16(34, bits, true);
  writeTag(36, 'data');
  view.setUint32(40, dataSize, true);
  let at = 44;
  for (let i = 0; i < frames; i++) {
    for (const ch of channels) {
      const v = ch[i];
      if (isFloat) view.setFloat32(at, v, true);
      else {
        const clipped = Math.max(-1, Math.min(1, v));
        const scale = bits === 16 ? 32767 : 8388607;
        const q = Math.round(clipped * scale);
        if (bits === 16) view.setInt16(at, q, true);
        else {
          view.setUint8(at, q & 0xff);
          view.setUint8(at + 1, (q >> 8) & 0xff);
          view.setUint8(at + 2, (q >> 16) & 0xff);
        }
      }
      at += width;
    }
  }
  return bytes;
}
