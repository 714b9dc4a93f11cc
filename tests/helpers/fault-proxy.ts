// The fault proxy lives in tools/fault-proxy/ because the benchmarks use its latency mode too; tests import it here.
export * from '../../tools/fault-proxy/proxy.mjs';
