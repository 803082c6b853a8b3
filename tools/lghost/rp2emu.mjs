// An emulated Raspberry Pi Pico (rp2040js) driven line by line from stdin, for
// tools/lghost/rp2emu.py. Built on the rp2 kit's harness.mjs (shared/rp2/): the same
// bootrom, the same flash hook (the bootrom's flash_range_erase / flash_range_program
// applied to the emulated NOR flash, so LittleFS works) and the same USB CDC NAK fix,
// plus what a power-cut test needs and the kit's harness cannot do:
//   - power cuts at an exact point: after N instructions, or inside the k-th flash
//     erase/program (only a prefix of it reaches the flash), counted from a marker the
//     device prints; the flash then stays as the cut left it and the next boot (a new
//     chip: RAM, peripherals, clock all fresh) starts from it;
//   - many boots in one process (no Node start-up per power cycle);
//   - the watchdog resets the chip when it fires (stock rp2040js only logs it);
//   - ADC inputs (the temperature sensor is channel 4) and GPIO levels.
//
//   node rp2emu.mjs --kit DIR --image firmware.bin|.uf2 [--modules NODE_MODULES_DIR]
// Requests (one JSON object per line on stdin), replies ("@@RP2 " + JSON on stdout):
//   {"op": "boot", "console_until": "text"?, "console_emu_s": s?}   -> {console, emu_s, wall_s}
//   {"op": "exec", "code": "...", "cut": {...}?}  raw-REPL command   -> {out, err, cut, ...}
//       cut: {"after": "marker", "instructions": N} | {"after": "marker", "flash_op": k, "keep": 0..1}
//   {"op": "adc", "channel": 4, "value": 0..4095}     {"op": "gpio", "pin": 25} -> {out: bool, oe: bool}
//   {"op": "flash_save", "path": P} / {"op": "flash_load", "path": P}: the filesystem region
//   {"op": "quit"}
// Every reply has ok (false with "error" when a request failed or timed out).
import fs from 'fs';
import readline from 'readline';
import { pathToFileURL } from 'url';

const argv = process.argv.slice(2);
const opt = {};
for (let i = 0; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];
const modules = opt.modules || `${opt.kit}/node_modules`;
const { Simulator, USBCDC } = await import(pathToFileURL(`${modules}/rp2040js/dist/esm/index.js`).href);
const { bootromB1 } = await import(pathToFileURL(`${opt.kit}/bootrom.mjs`).href);

const FS_START = 0xa0000; // RPI_PICO: the last 1408 KiB of the 2 MiB flash is the filesystem
const FS_SIZE = 1408 * 1024;
const CYCLE_NS = 1e9 / 125e6;
const log = (s) => process.stderr.write(`[rp2emu] ${s}\n`);
const reply = (o) => process.stdout.write('@@RP2 ' + JSON.stringify(o) + '\n');
// rp2040js logs to the console; keep stdout for replies (its warnings are about peripherals
// it does not model, as in harness.mjs, which shows errors only)
const logger = { debug() {}, info() {}, warn() {}, error: (c, m) => log(`ERROR ${c}: ${m}`) };

let flash = new Uint8Array(2 * 1024 * 1024).fill(0xff);
const img = fs.readFileSync(opt.image);
if (opt.image.endsWith('.uf2')) { // 512-byte blocks: target address at 12, length at 16, data at 32
  for (let o = 0; o + 512 <= img.length; o += 512) {
    const b = new DataView(img.buffer, img.byteOffset + o, 512);
    flash.set(img.subarray(o + 32, o + 32 + b.getUint32(16, true)), b.getUint32(12, true) - 0x10000000);
  }
} else {
  flash.set(img, 0);
}
let board = null;
const adc = [0, 0, 0, 0, 0];

class Board {
  constructor() {
    const sim = (this.sim = new Simulator());
    const mcu = (this.mcu = sim.rp2040);
    this.core = mcu.core;
    this.clock = sim.clock;
    mcu.loadBootrom(bootromB1); // also resets and blanks the flash
    mcu.logger = logger;
    mcu.flash.set(flash);
    flash = mcu.flash; // this chip's flash is the persistent one from now on
    for (let c = 0; c < 5; c++) mcu.adc.channelValues[c] = adc[c];
    const wdt = mcu.peripherals[0x40058];
    wdt.onWatchdogTrigger = () => {
      // the reset stops the watchdog (rp2040js would re-fire it at the same instant forever)
      wdt.alarm.enable = false;
      wdt.timer.enable = false;
      this.powerOff({ reason: 'watchdog' });
    };
    const rom = new Uint8Array(mcu.bootrom.buffer);
    const rd16 = (a) => rom[a] | (rom[a + 1] << 8);
    const romFunc = (s) => {
      const code = s.charCodeAt(0) | (s.charCodeAt(1) << 8);
      for (let p = rd16(0x14); rd16(p) !== 0; p += 4) if (rd16(p) === code) return rd16(p + 2) & ~1;
      throw new Error(`ROM function ${s} not found`);
    };
    this.romErase = romFunc('RE');
    this.romProgram = romFunc('RP');
    this.stats = { instructions: 0, erases: 0, erasedBytes: 0, programs: 0, programmedBytes: 0 };
    this.alive = true;
    this.rx = '';
    this.input = [];
    this.waiter = null;
    this.cut = null; // armed cut: {instructions | flash_op, keep, armed, i0, ops0}
    this.cutInfo = null;
    this.pendingRead = -1;
    const cdc = (this.cdc = new USBCDC(mcu.usbCtrl));
    this.connected = new Promise((r) => { cdc.onDeviceConnected = r; });
    cdc.onSerialData = (buf) => { this.rx += Buffer.from(buf).toString('latin1'); this.pump(); };
    // A real host NAKs the CDC OUT endpoint until it has data; stock rp2040js answers
    // with empty packets at once, an interrupt storm that keeps the CPU busy in sleep().
    mcu.usbCtrl.onEndpointRead = (ep, size) => {
      if (ep !== cdc.outEndpoint) return;
      if (cdc.txFIFO.empty) this.pendingRead = size;
      else this.completeRead(size);
    };
    this.core.PC = 0x10000000;
    setImmediate(() => this.run());
  }

  completeRead(size) {
    const cdc = this.cdc;
    const buf = new Uint8Array(Math.min(size, cdc.txFIFO.itemCount));
    for (let i = 0; i < buf.length; i++) buf[i] = cdc.txFIFO.pull();
    this.pendingRead = -1;
    this.mcu.usbCtrl.endpointReadDone(cdc.outEndpoint, buf);
  }

  send(s) { for (let i = 0; i < s.length; i++) this.input.push(s.charCodeAt(i) & 0xff); }
  emu() { return this.clock.nanos / 1e9; }

  // Resolves with the text before `pattern` (consumed), or null once the power is off.
  expect(pattern) {
    return new Promise((resolve) => { this.waiter = { pattern, resolve }; this.pump(); });
  }
  pump() {
    const c = this.cut;
    if (c && !c.armed && this.rx.indexOf(c.after) >= 0) {
      c.armed = true;
      c.i0 = this.stats.instructions;
      c.ops0 = this.stats.erases + this.stats.programs;
    }
    const w = this.waiter;
    if (!w) return;
    if (!this.alive) { this.waiter = null; w.resolve(null); return; }
    const i = this.rx.indexOf(w.pattern);
    if (i < 0) return;
    const before = this.rx.slice(0, i);
    this.rx = this.rx.slice(i + w.pattern.length);
    this.waiter = null;
    w.resolve(before);
  }

  powerOff(info) {
    if (!this.alive) return;
    this.alive = false;
    this.cutInfo = Object.assign({ emu_s: +this.emu().toFixed(4) }, info);
    this.sim.stop();
    this.pump();
  }

  flashOp(pc) {
    const r = this.core.registers;
    const c = this.cut;
    const erase = pc === this.romErase;
    const off = r[0] >>> 0;
    const count = (erase ? r[1] : r[2]) >>> 0;
    let n = count;
    let cutHere = false;
    if (c && c.armed && c.flash_op !== undefined && this.stats.erases + this.stats.programs - c.ops0 >= c.flash_op) {
      n = Math.floor(count * c.keep); // only this much reaches the flash before the power goes
      cutHere = true;
    }
    if (erase) {
      flash.fill(0xff, off, off + n);
      this.stats.erases++; this.stats.erasedBytes += n;
    } else {
      const src = r[1] >>> 0;
      for (let i = 0; i < n; i++) flash[off + i] &= this.mcu.readUint8(src + i); // NOR: 1 -> 0 only
      this.stats.programs++; this.stats.programmedBytes += n;
    }
    if (cutHere) {
      this.powerOff({ reason: 'flash', op: erase ? 'erase' : 'program', offset: off, bytes: count, written: n });
      return;
    }
    this.core.PC = this.core.LR & ~1; // return to the caller
  }

  run() {
    if (!this.alive) return;
    const cdc = this.cdc;
    while (this.input.length && !cdc.txFIFO.full) cdc.sendSerialByte(this.input.shift());
    if (this.pendingRead >= 0 && !cdc.txFIFO.empty) this.completeRead(this.pendingRead);
    const core = this.core, clock = this.clock, st = this.stats, c = this.cut;
    const byCount = c && c.instructions !== undefined;
    for (let i = 0; i < 200000 && this.alive; i++) {
      if (core.waiting) {
        const n = clock.nanosToNextAlarm;
        clock.tick(n);
        i += n / CYCLE_NS;
      } else {
        const pc = core.PC;
        if (pc === this.romErase || pc === this.romProgram) { this.flashOp(pc); continue; }
        if (byCount && c.armed && st.instructions - c.i0 >= c.instructions) {
          this.powerOff({ reason: 'instructions', after: st.instructions - c.i0 });
          return;
        }
        st.instructions++;
        clock.tick(core.executeInstruction() * CYCLE_NS);
      }
    }
    setImmediate(() => this.run());
  }
}

function withTimeout(p, s, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timeout after ${s} s`)), s * 1000); })])
    .finally(() => clearTimeout(t));
}

async function boot(req) {
  if (board) board.powerOff({ reason: 'reboot' });
  const w0 = Date.now();
  const b = (board = new Board());
  await b.connected;
  if (req.console_until || req.console_emu_s) {
    // let the program on the board (main.py) run before taking the REPL
    const until = req.console_emu_s ? b.emu() + req.console_emu_s : Infinity;
    while (b.alive && !(req.console_until && b.rx.indexOf(req.console_until) >= 0) && b.emu() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  b.send('\r\x03\x03');
  await new Promise((r) => setTimeout(r, 50));
  const console_ = b.rx;
  b.rx = '';
  b.send('\x01');
  if ((await b.expect('raw REPL; CTRL-B to exit\r\n>')) === null) throw new Error('board died during boot');
  return { console: console_, emu_s: +b.emu().toFixed(3), wall_s: (Date.now() - w0) / 1000 };
}

async function exec(req) {
  const b = board;
  if (!b || !b.alive) throw new Error('board is off: boot first');
  const w0 = Date.now(), e0 = b.emu(), s0 = Object.assign({}, b.stats);
  b.cut = req.cut ? Object.assign({ armed: false }, req.cut) : null;
  b.rx = '';
  b.send(req.code.replace(/\n/g, '\r\n'));
  b.send('\x04');
  let out = null, err = null;
  if ((await b.expect('OK')) !== null && (out = await b.expect('\x04')) !== null
      && (err = await b.expect('\x04')) !== null) await b.expect('>');
  if (out === null) out = b.rx; // cut: what came out before the power went
  b.cut = null;
  const d = {};
  for (const k in s0) d[k] = b.stats[k] - s0[k];
  return { out: out.replace(/\r\n/g, '\n'), err: err === null ? null : err.replace(/\r\n/g, '\n'),
           cut: b.alive ? null : b.cutInfo, emu_s: +(b.emu() - e0).toFixed(4), wall_s: (Date.now() - w0) / 1000, ...d };
}

const handlers = {
  boot: (r) => withTimeout(boot(r), r.timeout_s || 120, 'boot'),
  exec: (r) => withTimeout(exec(r), r.timeout_s || 300, 'exec'),
  adc: (r) => { adc[r.channel] = r.value; if (board) board.mcu.adc.channelValues[r.channel] = r.value; return {}; },
  gpio: (r) => { const p = board.mcu.gpio[r.pin]; return { out: p.outputValue, oe: p.outputEnable }; },
  flash_save: (r) => { fs.writeFileSync(r.path, flash.subarray(FS_START, FS_START + FS_SIZE)); return {}; },
  flash_load: (r) => { flash.set(fs.readFileSync(r.path).subarray(0, FS_SIZE), FS_START); return {}; },
  quit: () => { setTimeout(() => process.exit(0), 10); return {}; },
};

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
      const h = handlers[req.op];
      if (!h) throw new Error(`unknown op ${req.op}`);
      reply(Object.assign({ ok: true }, await h(req)));
    } catch (e) {
      if (board && board.alive && /timeout/.test(e.message)) board.powerOff({ reason: 'timeout' });
      reply({ ok: false, error: e.message, tail: board ? board.rx.slice(-800) : '' });
    }
  });
});
rl.on('close', () => chain.then(() => process.exit(0)));
