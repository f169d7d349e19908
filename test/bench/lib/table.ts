/** Plain aligned text tables for the terminal. */

export function table (headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => String(cell)))]
  const widths = headers.map((_, col) => Math.max(...cells.map((row) => (row[col] ?? '').length)))
  const line = (row: string[]): string => row.map((cell, col) => {
    const width = widths[col] ?? 0
    // Numbers right-aligned, text left-aligned.
    return /^[-+]?[\d.,]+(\s?(%|ms|MB|x|\/s))?$/.test(cell) ? cell.padStart(width) : cell.padEnd(width)
  }).join('  ').trimEnd()
  const rule = widths.map((width) => '-'.repeat(width)).join('  ')
  return [line(cells[0] as string[]), rule, ...cells.slice(1).map(line)].join('\n')
}

export function fmt (value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function heading (text: string): string {
  return `\n== ${text} ${'='.repeat(Math.max(0, 74 - text.length))}`
}
