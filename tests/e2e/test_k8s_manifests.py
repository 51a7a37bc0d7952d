# SPDX-License-Identifier: MIT
"""The deployment files against what scbridge needs.

deploy/k8s/*.yaml and docker-compose.yml are checked against the settings
table of contracts/operations.md (parsed here), the routes and ports the
service serves, and the real binary's --check-config. No cluster and no
Docker: the YAML is read with PyYAML, from this interpreter or from the one
yamllint runs on (Debian's python3-yaml, installed with yamllint).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import harness

K8S = os.path.join(harness.ROOT, "deploy", "k8s")
COMPOSE = os.path.join(harness.ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(harness.ROOT, "Dockerfile")
OPERATIONS = os.path.normpath(os.path.join(
    harness.ROOT, "..", "shared", "contracts", "operations.md"))
SECRET_PREFIX = "/run/secrets/"


# ---- reading the files ----------------------------------------------------

def _yamllint():
    path = shutil.which("yamllint")
    assert path, "yamllint not found (scripts/install-deps.sh --test)"
    return path


def load_yaml(path):
    """Every document of a YAML file, as Python values."""
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    with open(_yamllint(), encoding="utf-8") as f:
        python = f.readline()[2:].strip().split()[0]
    code = ("import json, sys, yaml\n"
            "docs = [d for d in yaml.safe_load_all(open(sys.argv[1]))\n"
            "        if d is not None]\n"
            "print(json.dumps(docs))\n")
    out = subprocess.run([python, "-c", code, path], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def manifests():
    """kind -> list of objects, over every deploy/k8s/*.yaml."""
    out = {}
    for name in sorted(os.listdir(K8S)):
        if name.endswith(".yaml"):
            for doc in load_yaml(os.path.join(K8S, name)):
                out.setdefault(doc["kind"], []).append(doc)
    return out


def one(objs, kind, name=None):
    found = [o for o in objs.get(kind, [])
             if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def settings():
    """name -> {"secret": bool, "required": bool} from operations.md."""
    with open(OPERATIONS, encoding="utf-8") as f:
        text = f.read()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\| `(SCBRIDGE_[A-Z0-9_]+)` \|", line)
        if not m:
            continue
        cols = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cols) == 5, line
        out[m.group(1)] = {"secret": "secret" in cols[2],
                           "required": cols[4] == "yes"}
    m = re.search(r"The secrets are (.*?)\.\n", text, re.S)
    named = set(re.findall(r"`(SCBRIDGE_[A-Z0-9_]+)`", m.group(1)))
    assert named == {n for n, s in out.items() if s["secret"]}, named
    assert len(out) > 40, "operations.md settings table not found"
    return out


def duration_s(text):
    m = re.match(r"^(\d+)([smh])$", text)
    assert m, text
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def container(objs):
    dep = one(objs, "Deployment", "scbridge")
    conts = dep["spec"]["template"]["spec"]["containers"]
    assert len(conts) == 1, conts
    return dep, conts[0]


def pod_env(objs):
    """The container's environment: ConfigMap values, then env entries."""
    _, c = container(objs)
    env = {}
    for src in c.get("envFrom", []):
        ref = src["configMapRef"]["name"]
        env.update(one(objs, "ConfigMap", ref)["data"])
    for e in c.get("env", []):
        assert "value" in e, ("env from elsewhere", e)
        env[e["name"]] = e["value"]
    return env


def port_of(host_port):
    return int(host_port.rsplit(":", 1)[1])


def compose_env():
    """Each scbridge service's environment, with every ${VAR:-default}
    of the compose file at its default."""
    doc = load_yaml(COMPOSE)[0]
    out = {}
    for svc, conf in doc["services"].items():
        if svc.startswith("scbridge"):
            out[svc] = {k: re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1",
                                  str(v))
                        for k, v in conf.get("environment", {}).items()}
    return out


# ---- --check-config on a given environment -------------------------------

def check_config(env, secret_files=None):
    """Runs scbridge --check-config; answers (exit code, stdout, stderr)."""
    tmp = tempfile.mkdtemp(prefix="scb-k8s-")
    try:
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
        for name, value in env.items():
            full[name] = str(value)
        for name, content in (secret_files or {}).items():
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content + "\n")
            full[name + "_FILE"] = path
        r = subprocess.run([harness.SCBRIDGE, "--check-config"], env=full,
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def secret_example(objs):
    return one(objs, "Secret", "scbridge-secrets")["stringData"]


def files_for_pod(objs):
    """setting -> the example Secret's content of the file it names."""
    env = pod_env(objs)
    data = secret_example(objs)
    out = {}
    for name, value in env.items():
        if name.endswith("_FILE"):
            out[name[:-len("_FILE")]] = data[os.path.basename(value)]
    return out


# ---- the tests --------------------------------------------------------------

def test_manifests_and_compose_file_pass_yamllint():
    files = sorted(os.path.join(K8S, f) for f in os.listdir(K8S)
                   if f.endswith(".yaml")) + [COMPOSE]
    r = subprocess.run([_yamllint(), "-f", "parsable", "-s"] + files,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_env_name_is_a_setting_of_operations_md():
    known = settings()
    objs = manifests()
    names = set(pod_env(objs)) | set(one(objs, "ConfigMap",
                                          "scbridge-config")["data"])
    for svc_env in compose_env().values():
        names |= set(svc_env)
    for name in sorted(names):
        base = name[:-len("_FILE")] if name.endswith("_FILE") else name
        assert base in known, "%s is not in operations.md" % name
        if name.endswith("_FILE"):
            assert known[base]["secret"], "%s: _FILE of a non-secret" % name


def test_every_required_setting_is_given_to_the_pod():
    env = pod_env(manifests())
    for name, s in sorted(settings().items()):
        if s["required"]:
            assert name in env or name + "_FILE" in env, name


def test_secrets_come_from_the_secret_as_files_never_from_the_configmap():
    known = settings()
    objs = manifests()
    data = one(objs, "ConfigMap", "scbridge-config")["data"]
    env = pod_env(objs)
    dep, c = container(objs)
    for name, s in known.items():
        if s["secret"]:
            assert name not in data, "%s in the ConfigMap" % name
            assert name not in env, "%s given as a plain value" % name
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    keys = set(secret_example(objs))
    files = [v for n, v in env.items() if n.endswith("_FILE")]
    assert files, "no secret is given as a file"
    for path in files:
        owner = [m for m in mounts.values()
                 if path.startswith(m["mountPath"].rstrip("/") + "/")]
        assert len(owner) == 1, path
        assert owner[0].get("readOnly") is True, owner
        vol = vols[owner[0]["name"]]
        assert vol["secret"]["secretName"] == "scbridge-secrets", vol
        assert os.path.basename(path) in keys, path


def test_probes_use_livez_and_readyz_on_the_admin_port():
    objs = manifests()
    _, c = container(objs)
    env = pod_env(objs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    admin = port_of(env["SCBRIDGE_ADMIN_LISTEN"])
    want = {"startupProbe": "/livez", "livenessProbe": "/livez",
            "readinessProbe": "/readyz"}
    for probe, path in want.items():
        get = c[probe]["httpGet"]
        assert get["path"] == path, (probe, get)
        p = get["port"]
        assert (ports[p] if isinstance(p, str) else p) == admin, (probe, p)


def test_container_ports_are_the_listen_settings():
    objs = manifests()
    _, c = container(objs)
    env = pod_env(objs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["webhooks"] == port_of(env["SCBRIDGE_LISTEN"]), ports
    assert ports["admin"] == port_of(env["SCBRIDGE_ADMIN_LISTEN"]), ports


def test_grace_period_outlasts_the_pre_stop_pause_and_the_drain():
    objs = manifests()
    dep, c = container(objs)
    spec = dep["spec"]["template"]["spec"]
    drain = duration_s(pod_env(objs)["SCBRIDGE_DRAIN_TIMEOUT"])
    pause = 0
    hook = c.get("lifecycle", {}).get("preStop", {}).get("exec")
    if hook:
        assert hook["command"][0] == "sleep", hook
        pause = int(hook["command"][1])
    grace = spec["terminationGracePeriodSeconds"]
    assert grace >= pause + drain + 5, (grace, pause, drain)


def test_replicas_have_resource_requests_and_a_disruption_budget():
    objs = manifests()
    dep, c = container(objs)
    req = c["resources"]["requests"]
    assert req.get("cpu") and req.get("memory"), req
    assert dep["spec"]["replicas"] >= 2, dep["spec"]["replicas"]
    pdb = one(objs, "PodDisruptionBudget", "scbridge")
    assert 1 <= pdb["spec"]["minAvailable"] < dep["spec"]["replicas"], pdb


def test_services_and_budget_select_the_pods_and_name_their_ports():
    objs = manifests()
    dep, c = container(objs)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    match = dep["spec"]["selector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in match.items()), match
    names = {p["name"] for p in c["ports"]}
    for svc in objs["Service"]:
        sel = svc["spec"]["selector"]
        assert all(labels.get(k) == v for k, v in sel.items()), svc
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in names, p
    exposed = one(objs, "Service", "scbridge")["spec"]["ports"]
    assert [p["targetPort"] for p in exposed] == ["webhooks"], exposed
    sel = one(objs, "PodDisruptionBudget",
              "scbridge")["spec"]["selector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in sel.items()), sel


def test_pod_runs_as_the_image_user_on_a_read_only_root():
    dep, c = container(manifests())
    pod_sc = dep["spec"]["template"]["spec"]["securityContext"]
    sc = c["securityContext"]
    with open(DOCKERFILE, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^FROM \S+ AS runtime\n(.*?)(?=^FROM |\Z)", text,
                  re.M | re.S)
    assert m, "the Dockerfile has no runtime stage"
    runtime = m.group(1)
    m = re.search(r"^USER (\d+)(?::(\d+))?$", runtime, re.M)
    assert m, "the runtime stage names no numeric USER"
    assert pod_sc["runAsNonRoot"] is True, pod_sc
    assert pod_sc["runAsUser"] == int(m.group(1)), (pod_sc, m.group(0))
    assert sc["readOnlyRootFilesystem"] is True, sc
    assert sc["allowPrivilegeEscalation"] is False, sc
    assert "/livez" in runtime.split("HEALTHCHECK", 1)[1].split("\n\n")[0]


def test_configmap_and_example_secret_pass_check_config():
    objs = manifests()
    env = {k: v for k, v in pod_env(objs).items()
           if not k.endswith("_FILE")}
    code, out, err = check_config(env, files_for_pod(objs))
    assert code == 0, err
    lines = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
    for name, value in env.items():
        shown = lines.get(name, "")
        if re.match(r"^\d{4}-\d\d-\d\dT", value):  # printed with ms
            shown = re.sub(r"\.000Z$", "Z", shown)
        assert shown == value, (name, lines.get(name), value)
    assert lines["SCBRIDGE_ADMIN_TOKEN"] == "***", "secret printed"


def test_compose_settings_pass_check_config():
    for svc, env in sorted(compose_env().items()):
        code, _, err = check_config(env)
        assert code == 0, (svc, err)
