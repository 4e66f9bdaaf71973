"""The Project's cluster policy on the real API server: the documents' LimitRange and quota object
counts, the egress allow-list and ingress annotations pass a server-side dry run as expanded, and
the LimitRange's max is enforced on a pod that asks for more."""

from __future__ import annotations

import json

import pytest

from ecpctl.engine import desired_state
from tests.integration.postgres_support import new_tenant_id

pytestmark = [pytest.mark.integration, pytest.mark.kube]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: policy-tests
spec:
  providers:
    kubernetes: {}
  policy:
    limitRange:
      default: {cpu: 1000m, memory: 2Gi}
      defaultRequest: {cpu: 100m, memory: 256Mi}
      min: {cpu: 50m, memory: 128Mi}
      max: {cpu: 4000m, memory: 8Gi}
    quotaObjects: {services: 100, persistentvolumeclaims: 50}
    egress: {enabled: true, cidrs: [10.20.0.0/16]}
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {tid}
spec:
  services:
    chatbot: 20
    callbot: 10
  sla:
    availability: "99.9%"
  database:
    enabled: false
  ingress:
    host: {tid}.ai.example.com
    className: nginx
    clusterIssuer: letsencrypt-prod
    maxBodySize: 50m
"""


def test_policy_objects_pass_a_server_side_dry_run(control_plane, namespace, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    tid = new_tenant_id("pol")
    (spec / "project.yaml").write_text(PROJECT)
    (spec / f"{tid}.yaml").write_text(TENANT.format(tid=tid))
    kinds = {"v1.LimitRange", "v1.ResourceQuota", "networking.k8s.io/v1.NetworkPolicy",
             "networking.k8s.io/v1.Ingress"}
    objs = []
    for r in desired_state(spec).resources:
        if r.type in kinds:
            obj = json.loads(json.dumps(r.attributes))
            obj["metadata"]["namespace"] = namespace
            objs.append(obj)
    assert len(objs) == 4
    out = control_plane.kubectl("apply", "--server-side", "--field-manager=ecpctl",
                                "--dry-run=server", "-o", "json", "-f", "-",
                                input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    doc = json.loads(out.stdout)
    got = {i["kind"]: i for i in doc.get("items", [doc])}
    assert got["ResourceQuota"]["spec"]["hard"]["services"] == "100"
    assert got["LimitRange"]["spec"]["limits"][0]["max"] == {"cpu": "4", "memory": "8Gi"}
    assert got["NetworkPolicy"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert got["Ingress"]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == \
        "letsencrypt-prod"
    assert got["Ingress"]["spec"]["tls"][0]["secretName"] == "ecp-ai-tls"

    # applied for real, the LimitRange's max turns away a pod that asks for more
    limit_range = next(o for o in objs if o["kind"] == "LimitRange")
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(limit_range))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": namespace},
           "spec": {"containers": [{"name": "x", "image": "x", "resources": {
               "limits": {"cpu": "6", "memory": "1Gi"}}}]}}
    r = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(pod),
                              check=False)
    assert r.returncode != 0 and "maximum cpu usage per Container is 4" in r.stderr
