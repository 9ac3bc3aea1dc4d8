/** What `dask-hpc --help` prints. */
export const USAGE = `usage: dask-hpc <command> [options]
  detect [--json] [--root DIR]            the node's cores, memory and job filesystem, and the
                                          job's own request (qstat / scontrol)
  plan [plan options] [--json]            workers, threads and memory for this node
  up [plan options] [--name N] [--python PY] [--detach | --exit-with-stdin] [--timeout S]
                                          start a cluster, print it as JSON, own it until stopped
                                          (--exit-with-stdin: or until its stdin ends)
  ls [--json] [--all-hosts]               this user's clusters on this node (--all-hosts: and, read
                                          only, those other nodes sharing the state directory run)
  down ID|NAME... | --all                 stop clusters (retire, terminate, kill)
  scale ID|NAME N [--overcommit]          a fixed number of workers (--overcommit: past what the job has left)
  adapt ID|NAME --minimum A --maximum B   let the scheduler choose within A..B (--overcommit as for scale)
  run [plan options] [--python PY] -- CMD...
                                          run CMD against a fresh cluster, stop it, exit with CMD's status
  job-script --system pbs|slurm [job options] [plan options]
                                          print one worker job's script, submit nothing
  serve --socket PATH [--python PY]       the sidecar: the HTTP API on a unix socket
  paths [--json]                          the state directory, this node's socket directory, host and boot
plan options: --workload cpu|io|mixed  --max-workers N  --reserve-mem-gb X  --max-mem-gb Y
              --memory-target F --memory-spill F --memory-pause F --memory-terminate F  --root DIR
job options (up, run, job-script: workers as batch jobs on other nodes, the scheduler here):
              --system pbs|slurm  --dialect gadi|pbspro  --job-cores N  --job-mem-gb X
              --job-nodes N (hosts per job, default 1: workers on every host; --job-cores,
              --job-mem-gb and --jobfs-gb are then each host's, on Gadi a whole node)
              --walltime HH:MM:SS  --queue Q  --account A  --jobfs-gb X  --storage gdata/ab12+…
              --prologue LINE (repeat)  --interface IF (default ib0, else the first non-loopback)
              --jobs N (jobs to submit at the start, default 1)
              --max-queued N (the most jobs waiting in the queue at once, default 8)
              inside a job, --account, --queue and --storage default to the job's own
  --runner    (up, run) instead: the plan's workers on every node of the current PBS or Slurm
              job, started with pbsdsh or srun; the scheduler here`;
