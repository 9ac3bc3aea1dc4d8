# Settings shared by slurm-up.sh and slurm-down.sh (sourced, not run).
SLURM_SUBNET=${DASK_HPC_SLURM_SUBNET:-192.168.253}   # a /24 that exists only on our bridge and in our namespaces
SLURM_NODES=${DASK_HPC_SLURM_NODES:-3}
SLURM_CPUS=${DASK_HPC_SLURM_CPUS:-2}
SLURM_MEM_MB=${DASK_HPC_SLURM_MEM_MB:-6000}
SLURM_BRIDGE=slurmbr0
# An unprivileged user for jobs submitted as a normal user would (made once and kept, as pbs-up.sh's PBS_GADI_USER).
SLURM_USER=${DASK_HPC_SLURM_USER:-slurmuser}
# Which directory the Slurm that is up lives in: one test Slurm per machine (the bridge and subnet are fixed).
SLURM_RECORD=/run/dask-hpc-slurm.dir

slurm_node_name() { printf 'slurm-node-%d' "$1"; }

# slurm_in_node DIR NODE CMD…: runs CMD on host NODE (its network and UTS namespace; the
# filesystem and the process table are the machine's, as a shared home and /tmp would be).
slurm_in_node() {
  local dir=$1 node=$2; shift 2
  nsenter --net="/run/netns/$node" --uts="$dir/ns/$node.uts" -- "$@"
}
