/**
 * evQueue's 6-field workflow schedule, 'sec;min;hour;day;month;weekday' (semantics.md §5.1),
 * for the schedule editor: parse, serialize, describe in words and list the next runs.
 *
 * Rules (the same as the engine's parser, evqueue/model/schedule.py):
 * - each field is a comma list of integers; an empty field means every value;
 * - day of month is 0-based (0 = the 1st) and month is 0-based (0 = January), weekday 0 = Sunday;
 *   the editor shows people 1–31 and month names and converts (evQueue's React UI wrote days
 *   unconverted, frontend.md §6.9 / semantics.md §5.1 Q);
 * - day of month and weekday must both match (AND, unlike cron);
 * - trailing fields may be omitted; a schedule that can never run is refused.
 * The next-run preview uses the browser's clock and zone; the engine's own next run comes from
 * `status type=scheduler` and is shown beside it.
 */

export const FIELDS = Object.freeze([
  { key: 'seconds', label: 'second', size: 60 },
  { key: 'minutes', label: 'minute', size: 60 },
  { key: 'hours', label: 'hour', size: 24 },
  { key: 'days', label: 'day of month', size: 31 },
  { key: 'months', label: 'month', size: 12 },
  { key: 'weekdays', label: 'weekday', size: 7 },
]);

export const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const SHORT_MONTHS = [1, 3, 5, 8, 10]; // February, April, June, September, November

function parseField(text, { label, size }) {
  const values = new Set();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    if (!/^\s*[+-]?\d+\s*$/.test(part)) throw new Error(`Non numeric data in ${label}: '${part}'`);
    const v = parseInt(part, 10);
    if (v < 0 || v >= size) throw new Error(`Value out of range for ${label}: ${v}`);
    values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

/** Parse a schedule string; throws Error with a readable message. Empty list = any. */
export function parseSchedule(text) {
  const raw = String(text ?? '');
  if (raw.trim() === '') throw new Error('Empty schedule');
  let parts = raw.split(';');
  if (parts.length === 7 && parts[6] === '') parts = parts.slice(0, 6);
  if (parts.length > 6) throw new Error('Garbage after the 6 fields');
  const out = {};
  FIELDS.forEach((f, i) => {
    out[f.key] = parseField(parts[i] ?? '', f);
  });
  const firstDay = out.days[0];
  const months = out.months;
  if (firstDay === 29 && months.length && months.every((m) => m === 1)) {
    throw new Error('Schedule constraints are impossible to satisfy (the 30th of February)');
  }
  if (firstDay === 30 && months.length && months.every((m) => SHORT_MONTHS.includes(m))) {
    throw new Error('Schedule constraints are impossible to satisfy (the 31st of a short month)');
  }
  return out;
}

/** Schedule string of a parsed schedule. */
export function formatSchedule(s) {
  return FIELDS.map((f) => (s[f.key] || []).join(',')).join(';');
}

/** The "every day at HH:MM" shape: {hour, minute} when s is daily, otherwise null. */
export function dailyTime(s) {
  const one = (l) => l.length === 1;
  if (
    one(s.seconds) &&
    s.seconds[0] === 0 &&
    one(s.minutes) &&
    one(s.hours) &&
    !s.days.length &&
    !s.months.length &&
    !s.weekdays.length
  ) {
    return { hour: s.hours[0], minute: s.minutes[0] };
  }
  return null;
}

const two = (n) => String(n).padStart(2, '0');

function listWords(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function describeTime(s) {
  const { seconds, minutes, hours } = s;
  const count = seconds.length * minutes.length * hours.length;
  if (count > 0 && count <= 6) {
    const times = [];
    for (const h of hours)
      for (const m of minutes) for (const x of seconds) times.push(`${two(h)}:${two(m)}:${two(x)}`);
    return `at ${listWords(times)}`;
  }
  const sec = seconds.length ? `at second ${seconds.join(', ')}` : 'every second';
  const min = minutes.length ? `of minute ${minutes.join(', ')}` : 'of every minute';
  const hr = hours.length ? `of hour ${hours.join(', ')}` : 'of every hour';
  return `${sec} ${min} ${hr}`;
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th';
  return `${n}${suffix}`;
}

/** A sentence for people, e.g. "at 02:30:00, every day". */
export function describeSchedule(s) {
  const dates = [];
  if (s.days.length) dates.push(`on the ${listWords(s.days.map((d) => ordinal(d + 1)))}`);
  if (s.weekdays.length)
    dates.push(`${s.days.length ? 'if it is a' : 'on'} ${listWords(s.weekdays.map((d) => WEEKDAYS[d]))}`);
  if (s.months.length) dates.push(`in ${listWords(s.months.map((m) => MONTHS[m]))}`);
  return `${describeTime(s)}, ${dates.length ? dates.join(' ') : 'every day'}`;
}

const allowed = (list, v) => list.length === 0 || list.includes(v);
const range = (list, size) => (list.length ? list : [...Array(size).keys()]);

function dateAllowed(s, d) {
  return (
    allowed(s.days, d.getDate() - 1) && allowed(s.months, d.getMonth()) && allowed(s.weekdays, d.getDay())
  );
}

/** First time of day (h, m, s) in s at or after the given one, or null. */
function firstTime(s, h0, m0, s0) {
  for (const h of range(s.hours, 24)) {
    if (h < h0) continue;
    for (const m of range(s.minutes, 60)) {
      if (h === h0 && m < m0) continue;
      for (const x of range(s.seconds, 60)) {
        if (h === h0 && m === m0 && x < s0) continue;
        return [h, m, x];
      }
    }
  }
  return null;
}

/**
 * The next `count` run times strictly after `from` (browser local wall clock).
 * @param {Object} s a parsed schedule
 * @param {Date} from
 * @param {number} count
 * @returns {Date[]}
 */
export function nextRuns(s, from, count = 5) {
  const out = [];
  let cursor = new Date(from.getTime() + 1000);
  cursor.setMilliseconds(0);
  // 400 years holds every weekday/day/month combination the parser accepts.
  for (let guard = 0; out.length < count && guard < 146100; guard += 1) {
    const day = new Date(cursor.getFullYear(), cursor.getMonth(), cursor.getDate());
    if (dateAllowed(s, day)) {
      const t = firstTime(s, cursor.getHours(), cursor.getMinutes(), cursor.getSeconds());
      if (t) {
        // A wall time skipped by a DST jump comes out moved forward, as C mktime() does.
        const run = new Date(day.getFullYear(), day.getMonth(), day.getDate(), t[0], t[1], t[2]);
        out.push(run);
        cursor = new Date(run.getTime() + 1000);
        continue;
      }
    }
    cursor = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
  }
  return out;
}
