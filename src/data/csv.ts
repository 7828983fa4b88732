// Numeric CSV/TSV, parsed straight from bytes in two streamed passes: the first counts the rows
// (so the float32 matrix is allocated once, at its final size), the second parses every cell
// into it. Cells are decimal numbers (optionally in double quotes); an optional header line;
// '\n' or '\r\n' line ends; blank lines are skipped. Every bad cell is an error naming the
// source, its line and column, what was expected and what was found. (A cell-splitting CSV
// library hands out one string per cell — 47 million of them for a 60,000 × 784 file — which is
// what this format's size rules out.)

/** A source of bytes read in pieces: `read` calls `chunk` with consecutive pieces, in order. */
export interface ByteSource {
  /** what error messages call it (a file name) */
  name: string;
  read(chunk: (bytes: Uint8Array) => void): void;
}

export interface CsvOptions {
  /** ',' or '\t' or ';' or ' ' (default: '\t' when the first line has a tab, else ',') */
  delimiter?: string;
  /** whether the first line is a header (default: when its first cell is not a number) */
  header?: boolean;
}

export interface CsvTable {
  data: Float32Array;
  rows: number;
  cols: number;
  /** the header's cells, when there was one */
  header: string[] | null;
}

const NL = 10, CR = 13, QUOTE = 34;

/** The first non-blank line of a source (without its line end); "" when there is none. */
function firstLine(src: ByteSource): string {
  let text = "";
  try {
    src.read((b) => {
      let from = 0;
      for (let i = b.indexOf(NL); ; i = b.indexOf(NL, from)) {
        text += new TextDecoder().decode(i >= 0 ? b.subarray(from, i) : b.subarray(from));
        if (i < 0) break;
        if (text.trim() !== "") throw FOUND;
        text = "";
        from = i + 1;
      }
      if (text.length > 1 << 20) throw FOUND;
    });
  } catch (e) {
    if (e !== FOUND) throw e;
  }
  return text.trim() === "" ? "" : text.replace(/\r$/, "");
}
const FOUND = Symbol("found");

/** Parses a numeric CSV/TSV; `fn` starts every error message. */
export function parseCsv(fn: string, src: ByteSource, opts: CsvOptions = {}): CsvTable {
  const first = firstLine(src);
  if (first === "") throw new Error(`${fn}: ${src.name} is empty (no rows)`);
  const delimiter = opts.delimiter ?? (first.includes("\t") ? "\t" : ",");
  if (![",", "\t", ";", " "].includes(delimiter)) throw new Error(`${fn}: options.delimiter must be ',', '\\t', ';' or ' '; got ${JSON.stringify(delimiter)}`);
  const firstCell = first.split(delimiter)[0].trim().replace(/^"(.*)"$/, "$1");
  const header = opts.header ?? (firstCell !== "" && !Number.isFinite(Number(firstCell)) && !/^[+-]?(nan|inf|infinity)$/i.test(firstCell));
  const { lines } = countLines(src);
  const rows = lines - (header ? 1 : 0);
  if (rows <= 0) throw new Error(`${fn}: ${src.name} has no data rows${header ? " (only a header line)" : ""}`);
  const cols = first.split(delimiter).length;
  const data = new Float32Array(rows * cols);
  const d = delimiter.charCodeAt(0);
  let line = 1, col = 0, cellLen = 0, lineHasContent = false, skippingHeader = header;
  let cell = new Uint8Array(64);
  let k = 0; // values written
  const bad = (found: string, expected = "a number") => {
    throw new Error(`${fn}: ${src.name} line ${line}, column ${col + 1}: expected ${expected}, found ${found}`);
  };
  const endCell = () => {
    if (skippingHeader) return;
    if (col >= cols) bad(`a row of more than ${cols} cells`, `${cols} cells (as in the first row)`);
    data[k++] = parseNumber(cell, cellLen, bad);
    cellLen = 0;
  };
  const endLine = () => {
    if (!lineHasContent) return; // a blank line
    if (skippingHeader) {
      skippingHeader = false;
    } else {
      endCell();
      if (col + 1 !== cols) {
        throw new Error(`${fn}: ${src.name} line ${line}: expected ${cols} cells (as in the first row), found ${col + 1} (a ragged row)`);
      }
    }
    col = 0;
    cellLen = 0;
    lineHasContent = false;
  };
  src.read((b) => {
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c === NL) {
        endLine();
        line++;
      } else if (c === d) {
        lineHasContent = true;
        if (!skippingHeader) {
          endCell();
          col++;
        }
      } else if (c !== CR) {
        if (c !== 32 || d === 32) lineHasContent = true;
        if (!skippingHeader && c !== 32) {
          if (cellLen === cell.length) {
            const grown = new Uint8Array(2 * cell.length);
            grown.set(cell);
            cell = grown;
          }
          cell[cellLen++] = c;
        }
      }
    }
  });
  endLine();
  if (k !== data.length) throw new Error(`${fn}: ${src.name} changed while it was read (${k} values, ${data.length} expected)`);
  return { data, rows, cols, header: header ? first.split(delimiter).map((h) => h.trim()) : null };
}

/** Non-blank lines of a source. */
function countLines(src: ByteSource): { lines: number } {
  let lines = 0, content = false;
  src.read((b) => {
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c === NL) {
        if (content) lines++;
        content = false;
      } else if (c !== CR && c !== 32) {
        content = true;
      }
    }
  });
  return { lines: lines + (content ? 1 : 0) };
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * The float32 value of a cell's bytes (digits, sign, '.', exponent, surrounding quotes): exact
 * decimal → double for up to 15 significant digits and powers of ten up to 22 (Clinger's fast
 * path), Number() otherwise; then rounded to float32. NaN, infinities and anything else are refused.
 */
function parseNumber(cell: Uint8Array, len: number, bad: (found: string, expected?: string) => never): number {
  let i = 0, n = len;
  if (n >= 2 && cell[0] === QUOTE && cell[n - 1] === QUOTE) {
    i = 1;
    n--;
  }
  if (i === n) bad("an empty cell");
  const start = i;
  let neg = false;
  if (cell[i] === 45 || cell[i] === 43) neg = cell[i++] === 45;
  let mant = 0, digits = 0, exp = 0, sawDigit = false;
  for (; i < n && cell[i] >= 48 && cell[i] <= 57; i++) {
    sawDigit = true;
    if (mant !== 0 || cell[i] !== 48) digits++;
    mant = mant * 10 + (cell[i] - 48);
  }
  if (i < n && cell[i] === 46) {
    for (i++; i < n && cell[i] >= 48 && cell[i] <= 57; i++) {
      sawDigit = true;
      if (mant !== 0 || cell[i] !== 48) digits++;
      mant = mant * 10 + (cell[i] - 48);
      exp--;
    }
  }
  if (sawDigit && i < n && (cell[i] === 101 || cell[i] === 69)) {
    let j = i + 1, eneg = false, e = 0, any = false;
    if (j < n && (cell[j] === 45 || cell[j] === 43)) eneg = cell[j++] === 45;
    for (; j < n && cell[j] >= 48 && cell[j] <= 57; j++) {
      any = true;
      e = Math.min(e * 10 + (cell[j] - 48), 1e6);
    }
    if (any) {
      exp += eneg ? -e : e;
      i = j;
    }
  }
  if (!sawDigit || i !== n) {
    const text = String.fromCharCode(...cell.subarray(start, n)).slice(0, 40);
    if (/^[+-]?(nan|inf|infinity)$/i.test(text)) bad(`'${text}'`, "a finite number (NaN and infinities are not data)");
    bad(`'${text}'`);
  }
  let v: number;
  if (digits <= 15 && exp >= -22 && exp <= 22) {
    v = exp < 0 ? mant / POW10[-exp] : mant * POW10[exp];
  } else {
    v = Number(String.fromCharCode(...cell.subarray(start + (cell[start] === 45 || cell[start] === 43 ? 1 : 0), n)));
  }
  const f = Math.fround(neg ? -v : v);
  if (!Number.isFinite(f)) bad(`'${String.fromCharCode(...cell.subarray(start, n)).slice(0, 40)}'`, "a number within float32's range (±3.4e38)");
  return f;
}
