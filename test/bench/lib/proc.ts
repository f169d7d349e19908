import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, nearly always 100). */
const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU milliseconds (user + system) that a process has used so far. */
export function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces; fields after its closing ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / CLK_TCK
}

/** Resident memory of a process in MB, from /proc/<pid>/status VmRSS. */
export function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match ? Number(match[1]) / 1024 : Number.NaN
}

/**
 * Memory that is this process's own, in MB: anonymous pages (the V8 heap,
 * buffers, native allocations) from /proc/<pid>/smaps_rollup. RSS also
 * counts the node binary's code pages, about 40 MB that every node process
 * on the machine shares.
 */
export function privateMb (pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const match = /^Anonymous:\s+(\d+)\s+kB/m.exec(rollup)
    return match ? Number(match[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Whole-machine CPU counters, to tell how busy the machine was during a phase. */
export interface MachineCpu { busy: number, total: number }

export function machineCpu (): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const values = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (values[3] ?? 0) + (values[4] ?? 0)
  const total = values.reduce((sum, value) => sum + value, 0)
  return { busy: ((total - idle) * 1000) / CLK_TCK, total: (total * 1000) / CLK_TCK }
}

/** Fraction of all cores busy between two readings (0..1). */
export function busyFraction (before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total
  return total > 0 ? (after.busy - before.busy) / total : Number.NaN
}

export function machineDescription (): { cpus: number, model: string, memGb: number, node: string, loadavg: number[] } {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadavg: os.loadavg().map((value) => Math.round(value * 100) / 100)
  }
}
