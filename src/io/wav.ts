/**
 * WAV reading and writing for the CLI and the in-browser file denoiser.
 * Reads PCM 8/16/24/32-bit and IEEE float 32/64 (also WAVE_FORMAT_EXTENSIBLE, and RF64 for
 * files over 4 GiB), any rate and channel count; writes 16-bit, 24-bit or 32-bit float (RF64
 * when the audio needs it). Files can be read and written piece by piece: `readWavLayout` finds
 * the audio from the header, `decodeFrames` / `encodeFrames` convert any run of frames.
 */
export interface DecodedWav {
  sampleRate: number;
  /** One Float32Array per channel, in [-1, 1] for integer input. */
  channels: Float32Array[];
  /** 'pcm16', 'pcm24', 'float32', … */
  encoding: string;
}

/** Where a file's audio is and how it is encoded. */
export interface WavLayout {
  sampleRate: number;
  channelCount: number;
  /** 'pcm16', 'pcm24', 'float32', … */
  encoding: string;
  /** Byte offset of the first frame, and the number of whole frames. */
  dataOffset: number;
  frames: number;
  /** Bytes per frame (all channels). */
  frameBytes: number;
}

const PCM = 1;
const MIN_RATE = 1000;
const MAX_RATE = 768000;
const MAX_CHANNELS = 64;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;
const UNKNOWN_SIZE = 0xffffffff;

/**
 * The layout of a WAV file of `fileSize` bytes, reading only its headers through `read(offset,
 * length)` (which may return fewer bytes at the end of the file). Throws an Error naming `source`.
 */
export function readWavLayout(read: (offset: number, length: number) => Uint8Array, fileSize: number, source = 'input'): WavLayout {
  const fail = (why: string): never => {
    throw new Error(`${source} is not a readable WAV file: ${why}`);
  };
  const tag = (b: Uint8Array, at = 0) => String.fromCharCode(...b.subarray(at, at + 4));
  const head = read(0, 12);
  const rf64 = head.length === 12 && tag(head) === 'RF64';
  if (head.length < 12 || (tag(head) !== 'RIFF' && !rf64) || tag(head, 8) !== 'WAVE') fail('no RIFF/WAVE header');
  let format = 0;
  let channelCount = 0;
  let sampleRate = 0;
  let bits = 0;
  let seenFormat = false;
  let data: { offset: number; size: number } | null = null;
  let ds64DataSize = -1;
  // A chunk id is four printable ASCII characters; used to tolerate a missing pad byte.
  const plausible = (at: number) => {
    const b = at + 8 <= fileSize ? read(at, 4) : new Uint8Array(0);
    return b.length === 4 && b.every((c) => c >= 0x20 && c < 0x7f);
  };
  for (let at = 12; at + 8 <= fileSize;) {
    const header = read(at, 8);
    const view = new DataView(header.buffer, header.byteOffset, 8);
    const id = tag(header);
    let size = view.getUint32(4, true);
    const body = at + 8;
    if (id === 'ds64' && rf64) {
      const b = read(body, 16);
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (b.length < 16) fail('ds64 chunk too short');
      ds64DataSize = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
    } else if (id === 'fmt ') {
      if (seenFormat) fail('two format chunks (which one describes the audio?)');
      seenFormat = true;
      if (size < 16) fail('format chunk too short');
      const b = read(body, Math.min(size, 40));
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      format = v.getUint16(0, true);
      channelCount = v.getUint16(2, true);
      sampleRate = v.getUint32(4, true);
      bits = v.getUint16(14, true);
      if (format === EXTENSIBLE && size >= 26 && b.length >= 26) format = v.getUint16(24, true);
    } else if (id === 'data') {
      if (data) fail('two data chunks');
      if (!seenFormat) fail('the data chunk comes before the format chunk');
      if (rf64 && size === UNKNOWN_SIZE && ds64DataSize >= 0) size = ds64DataSize;
      else if (size === 0 || size === UNKNOWN_SIZE) size = fileSize - body; // a recorder that stopped before finalising the header: the rest of the file is the audio, as players read it
      data = { offset: body, size: Math.min(size, fileSize - body) }; // tolerate a truncated last chunk
    }
    const next = body + size + (size % 2);
    at = size % 2 && !plausible(next) && plausible(next - 1) ? next - 1 : next; // a writer that left out the pad byte
  }
  if (!seenFormat) fail('no format chunk');
  if (channelCount < 1 || channelCount > MAX_CHANNELS) fail(`${channelCount} channels (at most ${MAX_CHANNELS})`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) fail(`sample rate ${sampleRate} Hz (expected ${MIN_RATE}–${MAX_RATE} Hz)`);
  if (!data) fail('no data chunk');
  const supported = (format === PCM && [8, 16, 24, 32].includes(bits)) || (format === FLOAT && [32, 64].includes(bits));
  if (!supported) fail(`unsupported encoding (format ${format}, ${bits}-bit)`);
  const frameBytes = (bits / 8) * channelCount;
  const frames = Math.floor(data!.size / frameBytes);
  if (frames === 0) fail('no audio in the data chunk');
  return {
    sampleRate,
    channelCount,
    encoding: `${format === FLOAT ? 'float' : 'pcm'}${bits}`,
    dataOffset: data!.offset,
    frames,
    frameBytes,
  };
}

/** Decode the whole frames in `bytes` into `channels` (one array per channel), from index `at`. Returns the frames decoded. */
export function decodeFrames(bytes: Uint8Array, layout: WavLayout, channels: Float32Array[], at = 0): number {
  const { channelCount, encoding, frameBytes } = layout;
  const width = frameBytes / channelCount;
  const frames = Math.floor(bytes.length / frameBytes);
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channelCount; c++) {
      const p = i * frameBytes + c * width;
      let v: number;
      if (encoding === 'float32') v = d.getFloat32(p, true);
      else if (encoding === 'float64') v = d.getFloat64(p, true);
      else if (width === 1) v = (d.getUint8(p) - 128) / 128;
      else if (width === 2) v = d.getInt16(p, true) / 32768;
      else if (width === 3) v = ((d.getUint8(p + 2) << 24) | (d.getUint8(p + 1) << 16) | (d.getUint8(p) << 8)) / 2147483648;
      else v = d.getInt32(p, true) / 2147483648;
      channels[c][at + i] = v;
    }
  }
  return frames;
}

export function decodeWav(bytes: Uint8Array, source = 'input'): DecodedWav {
  const layout = readWavLayout((offset, length) => bytes.subarray(offset, offset + length), bytes.length, source);
  const channels = Array.from({ length: layout.channelCount }, () => new Float32Array(layout.frames));
  decodeFrames(bytes.subarray(layout.dataOffset, layout.dataOffset + layout.frames * layout.frameBytes), layout, channels);
  return { sampleRate: layout.sampleRate, channels, encoding: layout.encoding };
}

const bitsOf = (encoding: string) => (encoding === 'pcm16' ? 16 : encoding === 'pcm24' ? 24 : 32);

/**
 * The header of a WAV file of `frames` frames: 44 bytes, or an RF64 header (80 bytes) when the
 * audio is too long for RIFF's 32-bit sizes (over 4 GiB).
 */
export function wavHeader(channelCount: number, sampleRate: number, encoding: string, frames: number): Uint8Array {
  const bits = bitsOf(encoding);
  const width = bits / 8;
  const dataSize = frames * channelCount * width;
  const rf64 = dataSize + 36 > UNKNOWN_SIZE - 1;
  const bytes = new Uint8Array(rf64 ? 80 : 44);
  const view = new DataView(bytes.buffer);
  const writeTag = (at: number, s: string) => [...s].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  const setUint64 = (at: number, v: number) => (
    view.setUint32(at, v % 2 ** 32, true),
    view.setUint32(at + 4, Math.floor(v / 2 ** 32), true)
  );
  writeTag(0, rf64 ? 'RF64' : 'RIFF');
  view.setUint32(4, rf64 ? UNKNOWN_SIZE : 36 + dataSize, true);
  writeTag(8, 'WAVE');
  let at = 12;
  if (rf64) {
    writeTag(at, 'ds64');
    view.setUint32(at + 4, 28, true);
    setUint64(at + 8, bytes.length - 8 + dataSize); // RIFF size
    setUint64(at + 16, dataSize);
    setUint64(at + 24, frames); // sample count
    view.setUint32(at + 32, 0, true); // no table
    at += 36;
  }
  writeTag(at, 'fmt ');
  view.setUint32(at + 4, 16, true);
  view.setUint16(at + 8, bits === 32 ? FLOAT : PCM, true);
  view.setUint16(at + 10, channelCount, true);
  view.setUint32(at + 12, sampleRate, true);
  view.setUint32(at + 16, sampleRate * channelCount * width, true);
  view.setUint16(at + 20, channelCount * width, true);
  view.setUint16(at + 22, bits, true);
  writeTag(at + 24, 'data');
  view.setUint32(at + 28, rf64 ? UNKNOWN_SIZE : dataSize, true);
  return bytes;
}

/** Frames [from, from + count) of `channels`, interleaved in `encoding`. Integers are clipped, never wrapped. */
export function encodeFrames(channels: Float32Array[], encoding: string, from = 0, count = (channels[0]?.length ?? 0) - from): Uint8Array {
  const bits = bitsOf(encoding);
  const width = bits / 8;
  const bytes = new Uint8Array(count * channels.length * width);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (let i = from; i < from + count; i++) {
    for (const ch of channels) {
      const v = ch[i];
      if (bits === 32) view.setFloat32(at, v, true);
      else {
        const clipped = Math.max(-1, Math.min(1, v));
        const q = Math.round(clipped * (bits === 16 ? 32767 : 8388607));
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

/** Encode channels as WAV: 'float32' (default), 'pcm16' or 'pcm24'. */
export function encodeWav(channels: Float32Array[], sampleRate: number, encoding = 'float32'): Uint8Array {
  const frames = channels[0]?.length ?? 0;
  const header = wavHeader(channels.length, sampleRate, encoding, frames);
  const audio = encodeFrames(channels, encoding);
  const bytes = new Uint8Array(header.length + audio.length);
  bytes.set(header);
  bytes.set(audio, header.length);
  return bytes;
}
