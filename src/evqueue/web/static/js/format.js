/**
 * Formatting of engine values for people: dates, durations, uptimes, byte sizes.
 *
 * The engine writes dates as 'YYYY-MM-DD HH:MM:SS' in its own local time with no zone
 * (frontend.md §3.0). Durations of running work are computed against the engine's clock, not
 * the browser's: `clockOffset()` measures the difference from a greeting's `time`, so a browser
 * in another time zone still shows right durations (evQueue's UI did not, §5).
 */

const ENGINE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/;

/** Date for an engine time string (read as wall-clock values), or null. */
export function parseEngineTime(text) {
  const m = ENGINE_TIME.exec(text || '');
  if (!m) return null;
  return new Date(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] || 0),
  );
}

const two = (n) => String(n).padStart(2, '0');

/** Engine time string of a Date's wall-clock values. */
export function toEngineTime(date) {
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

/** Engine time string from an <input type="datetime-local"> value ('' stays ''). */
export function fromInputDateTime(value) {
  if (!value) return '';
  const [d, t = '00:00'] = value.split('T');
  return `${d} ${t.length === 5 ? `${t}:00` : t}`;
}

/** <input type="datetime-local"> value from an engine time string. */
export function toInputDateTime(text) {
  const m = ENGINE_TIME.exec(text || '');
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}` : '';
}

/** Milliseconds to add to the browser clock to get the engine's wall clock. */
export function clockOffset(engineTime, browserNow = Date.now()) {
  const t = parseEngineTime(engineTime);
  return t ? t.getTime() - browserNow : 0;
}

/** "3 s", "2 min 05 s", "1 h 02 min", "3 d 4 h" for a number of seconds. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '';
  let s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${two(m)} min`;
  if (m) return `${m} min ${two(s)} s`;
  return `${s} s`;
}

/** Seconds between two engine time strings ('' end = now on the engine clock). */
export function durationBetween(start, end, offsetMs = 0, browserNow = Date.now()) {
  const a = parseEngineTime(start);
  if (!a) return null;
  const b = end ? parseEngineTime(end) : new Date(browserNow + offsetMs);
  return b ? (b.getTime() - a.getTime()) / 1000 : null;
}

/** Short date: "14:03:12" today, "yesterday 14:03", otherwise "2024-03-01 14:03". */
export function formatWhen(text, now = new Date()) {
  const t = parseEngineTime(text);
  if (!t) return text || '';
  const sameDay = (x, y) => x.toDateString() === y.toDateString();
  const hm = `${two(t.getHours())}:${two(t.getMinutes())}`;
  if (sameDay(t, now)) return `${hm}:${two(t.getSeconds())}`;
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  if (sameDay(t, y)) return `yesterday ${hm}`;
  return `${text.slice(0, 10)} ${hm}`;
}

/** "3 days 4 h" style uptime from seconds. */
export function formatUptime(seconds) {
  return formatDuration(Number(seconds));
}

/** "1.2 KiB" style size. */
export function formatBytes(n) {
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** Plural helper: plural(2, 'task') = "2 tasks". */
export function plural(n, word) {
  return `${n} ${word}${Number(n) === 1 ? '' : 's'}`;
}
