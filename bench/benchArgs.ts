// The one way a benchmark reads a numeric option (`--runs 5`, `--messages 2000`): a finite number
// above zero, else the fallback, so a typo never turns a figure into NaN.
export function numberOption(name: string, fallback: number, argv: readonly string[] = process.argv): number {
  const i = argv.indexOf(name);
  const value = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
