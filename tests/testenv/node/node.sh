# A real node beside the control plane, for `tests/testenv/run --node`
# (sourced by run, which calls node_up once the control plane is ready and
# node_down from its cleanup trap).
#
# Everything of the node lives in one PID + network + mount namespace set whose
# init is a holder (`unshare --pid --net --mount ... tool pause`, started with
# setpriv --pdeathsig KILL like every other component): containerd, the
# kubelet, kube-proxy, kube-scheduler and the apiserver relay are started in it
# with `nsenter --target HOLDER --pid --net --mount`. When the holder dies (run
# stopped, or killed outright) the kernel kills every process of its PID
# namespace (the shims and containers too) and drops the network namespace
# (veth, bridge, iptables rules) and the mount namespace (every overlay,
# volume and netns mount; tmpfs hides /run, /var/lib and /var/log in it, which
# the kubelet and containerd use whatever their flags say). What outlives the
# holder is undone by node_down: the cgroups under /<cgroup root> in each v1
# hierarchy and the three host sysctls the kubelet sets (kernel.panic,
# kernel.panic_on_oops, vm.overcommit_memory; restored when the last node on
# the machine stops). A node started by a run that was SIGKILLed is cleaned up
# by the next run --node that takes its slot.
#
#   host netns                          | node netns
#   apiserver 127.0.0.1:P               |
#   127.0.0.1:P <---- dials ------------+--- relay (tool forward) on 0.0.0.0:P: the kubelet,
#                                       |    kube-proxy and kube-scheduler use the admin
#                                       |    kubeconfig as it is; pods reach it through the
#                                       |    kubernetes Service (EndpointSlice -> NODE_IP:P)
#   atnNh 10.35.N.1/24 <== veth ==>     | atnNn 10.35.N.2/24: the node's IP and name
#   (tests listen here for pods)        | atnNbr 10.36.N.1/24 (CNI bridge) -- pods 10.36.N.x
#
# No default route in the node netns and no host iptables rule: pods reach
# the node's namespaces and the host side of the veth, nothing else.
# Several nodes run side by side: each takes a free slot N (a lock held for
# its lifetime) for its addresses, interface names and cgroup root.
#
# Needs root, cgroups (v1 hierarchies or v2) it can write, overlayfs,
# unshare/nsenter (util-linux) and ip (iproute2); runc, the CNI plugins and
# iptables come unpacked from Debian's packages (node/build).

node_state=/run/aura-testenv-node
node_slot=
node_holder=
node_dir=
node_tool_dir=

node_log() { log "node: $*"; }

# node_check: why this machine cannot run a node, or nothing.
node_check() {
  [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, mounts, cgroups)"; return; }
  local t
  for t in unshare nsenter ip; do
    command -v "$t" >/dev/null 2>&1 || { echo "needs '$t'"; return; }
  done
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    { echo "needs overlayfs (containerd's snapshotter)"; return; }
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
    { echo "needs cgroups (no /sys/fs/cgroup/memory, no cgroup v2 controllers)"; return; }
  [ -w /sys/fs/cgroup ] || [ -w /sys/fs/cgroup/memory ] || { echo "needs writable cgroups"; return; }
  unshare --net --mount true 2>/dev/null || { echo "cannot create network and mount namespaces (unshare)"; return; }
}

# node_cgroups: the cgroup folders of this slot (v1: one per hierarchy).
node_cgroups() {
  local c
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "/sys/fs/cgroup/$node_cgroup_root"
    return
  fi
  for c in /sys/fs/cgroup/*/; do
    c=${c%/}
    case ${c##*/} in unified) continue ;; esac
    [ -d "$c" ] && echo "$c/$node_cgroup_root"
  done
}

node_remove_cgroups() {
  local c i
  # (on a v1 host the kubelet mirrors its tree into the controller-less cgroup2 mount too)
  for c in $(node_cgroups) /sys/fs/cgroup/unified/"$node_cgroup_root"; do
    [ -d "$c" ] || continue
    for ((i = 0; i < 20; i++)); do   # killed processes may take a moment to leave
      find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$c" ] || break
      sleep 0.1
    done
    [ -d "$c" ] && node_log "WARNING: could not remove $c (processes left in it?)"
  done
  return 0
}

# node_take_slot: the first free slot; its lock is held on fd 8 until run exits.
node_take_slot() {
  local n
  mkdir -p "$node_state"
  for ((n = 0; n < 32; n++)); do
    exec 8>"$node_state/slot.$n.lock"
    if flock -n 8; then
      node_slot=$n
      return 0
    fi
    exec 8>&-
  done
  die "node: all 32 node slots are taken (32 run --node at once?)"
}

# node_sysctls save|restore: the host-global sysctls the kubelet changes;
# saved by the first node, restored when no other node runs.
node_sysctl_names="kernel.panic kernel.panic_on_oops vm.overcommit_memory"
node_sysctls() {
  local n other=
  (
    flock 9
    if [ "$1" = save ]; then
      [ -f "$node_state/sysctl.orig" ] || sysctl -n $node_sysctl_names >"$node_state/sysctl.orig"
      exit 0
    fi
    for ((n = 0; n < 32; n++)); do
      [ "$n" = "$node_slot" ] && continue
      [ -f "$node_state/slot.$n.lock" ] || continue
      flock -n "$node_state/slot.$n.lock" true || { other=1; break; }
    done
    if [ -z "$other" ] && [ -f "$node_state/sysctl.orig" ]; then
      { read -r panic; read -r oops; read -r overcommit; } <"$node_state/sysctl.orig"
      sysctl -qw kernel.panic="$panic" kernel.panic_on_oops="$oops" vm.overcommit_memory="$overcommit" &&
        rm -f "$node_state/sysctl.orig"
    fi
  ) 9>"$node_state/sysctl.lock"
}

# node_child PID EXE: the pid of PID's child once it runs EXE.
node_child() {
  local n c
  for ((n = 0; n < 200; n++)); do
    for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
      [ "$(readlink "/proc/$c/exe" 2>/dev/null)" = "$2" ] && { echo "$c"; return 0; }
    done
    alive "$1" || return 1
    sleep 0.05
  done
  return 1
}

node_in() { nsenter --target "$node_holder" --pid --net --mount -- "$@"; }

# node_daemon NAME EXE ARGS...: started in the node's namespaces, logs in $work/node-NAME.log.
node_daemon() {
  local name=$1; shift
  setpriv --pdeathsig KILL -- nsenter --target "$node_holder" --pid --net --mount -- \
    env PATH="$node_dir/debs/usr/sbin:$node_dir/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    LD_LIBRARY_PATH="$node_dir/debs/usr/lib/x86_64-linux-gnu:$node_dir/debs/lib/x86_64-linux-gnu" \
    XTABLES_LIBDIR="$node_dir/debs/usr/lib/x86_64-linux-gnu/xtables" \
    "$@" >"$work/node-$name.log" 2>&1 </dev/null &
  pids[node-$name]=$!
  order+=("node-$name")
}

# node_wait NAME DESCRIPTION CMD...: like wait_until, for a node component.
node_wait() { wait_until "node-$1" "$2" "${@:3}"; }

node_kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout=10s "$@"; }

node_up() {
  local why t0 h
  t0=$(now_ms)
  why=$(node_check)
  [ -z "$why" ] || die "node: this machine cannot run a node: $why"
  node_take_slot
  node_cgroup_root=aura-testenv-node$node_slot
  # A node of a run that was killed outright left its cgroups behind.
  node_remove_cgroups
  local host_ip=10.35.$node_slot.1 node_ip=10.35.$node_slot.2 pod_cidr=10.36.$node_slot.0/24
  local veth=atn${node_slot} run=$work/node
  node_name=$node_ip   # the apiserver dials kubelets by name first; an IP needs no DNS
  mkdir -p "$run"/{pki,kubelet,pod-logs,cni/net.d,cni/ipam,containerd,runc}
  node_sysctls save

  # --- the holder ------------------------------------------------------------------
  start node-holder unshare --pid --fork --kill-child --mount-proc --net --mount --propagation slave -- \
    /bin/sh -c 'for d in /run /var/lib /var/log; do mount -t tmpfs -o mode=0755,size=64m aura-testenv-node "$d" || exit 1; done
      exec "$0" pause' "$node_tool_dir/tool"
  node_holder=$(node_child "${pids[node-holder]}" "$node_tool_dir/tool") ||
    fail_component node-holder "node: the holder did not start"
  node_wait holder "namespaces" grep -q ' /var/log ' "/proc/$node_holder/mounts"
  node_in ip link set lo up
  ip link del "${veth}h" 2>/dev/null || true   # left by a killed run in this slot
  ip link add "${veth}h" type veth peer name "${veth}n" netns "$node_holder"
  ip addr add "$host_ip/24" dev "${veth}h"
  ip link set "${veth}h" up
  node_in ip addr add "$node_ip/24" dev "${veth}n"
  node_in ip link set "${veth}n" up
  # The Service range gets a route so that the node's own Service traffic passes
  # the route lookup before kube-proxy's DNAT; no default route on purpose.
  node_in ip route add 10.0.0.0/24 dev "${veth}n"
  node_in sysctl -qw net.ipv4.ip_forward=1

  # --- the apiserver relay: listens in the node netns, dials the host's loopback ----
  exec 7</proc/self/ns/net
  node_daemon relay "$node_tool_dir/tool" forward --dial-netns /proc/self/fd/7 "0.0.0.0:$api_port" "127.0.0.1:$api_port"
  exec 7<&-
  node_wait relay "apiserver through the relay" node_in curl -ksS --max-time 2 "https://127.0.0.1:$api_port/healthz"

  # --- cgroups ---------------------------------------------------------------------------
  for h in $(node_cgroups); do
    mkdir -p "$h"
    if [ -f "${h%/*}/cpuset.cpus" ]; then
      cat "${h%/*}/cpuset.cpus" >"$h/cpuset.cpus"
      cat "${h%/*}/cpuset.mems" >"$h/cpuset.mems"
    fi
  done

  # --- containerd and the images ------------------------------------------------------------
  local subst=(-e "s|@RUN@|$run|g" -e "s|@RUNC@|$node_dir/debs/usr/sbin/runc|g"
    -e "s|@CNI_BIN@|$node_dir/debs/usr/lib/cni|g" -e "s|@POD_CIDR@|$pod_cidr|g" -e "s|@NODE_IP@|$node_ip|g"
    -e "s|@CGROUP_ROOT@|$node_cgroup_root|g" -e "s|@BRIDGE@|${veth}br|g")
  sed "${subst[@]}" "$here/node/containerd.toml.in" >"$run/containerd.toml"
  sed "${subst[@]}" "$here/node/cni.conflist.in" >"$run/cni/net.d/10-aura-testenv.conflist"
  sed "${subst[@]}" "$here/node/kubelet-config.yaml.in" >"$run/kubelet-config.yaml"
  node_daemon containerd "$node_dir/bin/containerd" --config "$run/containerd.toml"
  local ctr=("$node_dir/bin/ctr" --address "$run/containerd/containerd.sock" -n k8s.io)
  node_wait containerd "socket" "${ctr[@]}" version
  local img
  for img in "$node_tool_dir/pause.tar" "$node_tool_dir/tool.tar" ${AURA_TESTENV_NODE_IMAGES:-}; do
    "${ctr[@]}" images import "$img" >"$work/node-import.log" 2>&1 ||
      { cat "$work/node-import.log" >&2; die "node: importing $img failed"; }
  done

  # --- kubelet: bootstraps with the admin credentials (a CSR for system:node:NAME
  # that the controller-manager approves, as the requester is in system:masters) --
  printf 'nameserver 127.0.0.1\n' >"$run/resolv.conf"   # no DNS server that could leave
  node_daemon kubelet "$node_dir/bin/kubelet" \
    --config="$run/kubelet-config.yaml" \
    --bootstrap-kubeconfig="$kubeconfig" \
    --kubeconfig="$run/kubelet.kubeconfig" \
    --cert-dir="$run/pki" \
    --root-dir="$run/kubelet" \
    --hostname-override="$node_name" \
    --node-ip="$node_ip" \
    --v=1

  # --- the kubernetes Service's endpoint (run starts the apiserver with
  # --endpoint-reconciler-type=none): the relay, in the node netns ----------------
  node_kubectl apply -f - >/dev/null <<YAML || die "node: creating the kubernetes EndpointSlice failed"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes-node
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: testenv.aura-operator.io
addressType: IPv4
endpoints:
- addresses: ["$node_ip"]
  conditions: {ready: true}
ports:
- name: https
  port: $api_port
  protocol: TCP
YAML

  # --- kube-proxy (iptables rules only in the node netns; no host conntrack sysctl) ---
  node_daemon kube-proxy "$node_dir/bin/kube-proxy" \
    --kubeconfig="$kubeconfig" \
    --hostname-override="$node_name" \
    --proxy-mode=iptables \
    --cluster-cidr="$pod_cidr" \
    --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0 \
    --conntrack-tcp-timeout-close-wait=0 \
    --metrics-bind-address=127.0.0.1:10249 \
    --healthz-bind-address=127.0.0.1:10256 \
    --v=1
  # --- kube-scheduler (the control plane has none) --------------------------------------
  node_daemon kube-scheduler "$node_dir/bin/kube-scheduler" \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" \
    --authorization-kubeconfig="$kubeconfig" \
    --leader-elect=false \
    --bind-address=127.0.0.1 \
    --secure-port=10259 \
    --v=1

  node_wait kubelet "Ready node $node_name" node_ready
  node_wait kube-proxy "healthz" node_in curl -fsS --max-time 2 http://127.0.0.1:10256/healthz
  node_wait kube-scheduler "healthz" node_in curl -fksS --max-time 2 https://127.0.0.1:10259/healthz
  echo "$host_ip" >"$kubeconfig.node-host-ip"
  node_log "$node_name Ready after $(($(now_ms) - t0)) ms (slot $node_slot, host side of its veth $host_ip)"
}

node_ready() {
  [ "$(node_kubectl get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# node_down: after stop_all (every node process got TERM then KILL with the
# others; the holder's death took its PID, network and mount namespaces).
node_down() {
  [ -n "$node_slot" ] || return 0
  node_remove_cgroups
  ip link del "atn${node_slot}h" 2>/dev/null || true
  node_sysctls restore
  rm -f "$kubeconfig.node-host-ip"
  exec 8>&-
  node_slot=
}
