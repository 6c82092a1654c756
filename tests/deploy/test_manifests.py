"""Every deployment manifest renders and parses, and says what production needs."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.deploy.helm_render import Unsupported, render_chart

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_helm_chart_renders_to_valid_kubernetes_objects() -> None:
    rendered = render_chart(DEPLOY / "helm" / "govbot")
    docs = {name: yaml.safe_load(text) for name, text in rendered.items() if text.strip()}
    deployment = docs["deployment.yaml"]
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["args"] == ["serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["envFrom"] == [{"secretRef": {"name": "govbot"}}], "secrets come from a Kubernetes secret"
    assert {e["name"] for e in container["env"]} >= {"GOVBOT_HOST", "GOVBOT_PORT"}
    assert not any("PASSWORD" in e["name"] or "TOKEN" in e["name"] for e in container["env"])
    assert pod["initContainers"][0]["args"] == ["db", "upgrade"]
    assert docs["service.yaml"]["kind"] == "Service"
    assert "ingress.yaml" not in docs, "ingress is off unless enabled"


def test_helm_chart_values_change_the_output() -> None:
    rendered = render_chart(DEPLOY / "helm" / "govbot", {"replicaCount": 4, "ingress": {
        "enabled": True, "className": "nginx", "host": "govbot.plant.example", "tls": []}})
    assert yaml.safe_load(rendered["deployment.yaml"])["spec"]["replicas"] == 4
    ingress = yaml.safe_load(rendered["ingress.yaml"])
    assert ingress["spec"]["rules"][0]["host"] == "govbot.plant.example"


INGRESS_ON = {"ingress": {"enabled": True, "className": "nginx", "host": "govbot.plant.example",
                          "tls": [{"secretName": "govbot-tls", "hosts": ["govbot.plant.example"]}]}}


@pytest.mark.parametrize("values", [{}, INGRESS_ON, {"replicaCount": 3, **INGRESS_ON}], ids=["defaults", "ingress", "3-replicas"])
def test_rendered_chart_passes_the_kubernetes_schemas(values: dict[str, object]) -> None:
    """Each object the chart renders validates, strictly (no unknown fields), against the Kubernetes API schemas."""
    version = kubernetes_validate.latest_version()
    kinds = []
    for text in render_chart(DEPLOY / "helm" / "govbot", values).values():
        for doc in yaml.safe_load_all(text):
            if doc:
                kubernetes_validate.validate(doc, version, strict=True)  # raises with the offending path
                kinds.append(doc["kind"])
    assert {"Deployment", "Service"} <= set(kinds)


def test_helm_chart_mounts_the_digest_scopes_file(tmp_path: Path) -> None:
    from notifications.digest_scopes import load_scopes

    assert not render_chart(DEPLOY / "helm" / "govbot")["configmap.yaml"].strip(), "no file unless configured"
    example = DEPLOY / "digest-scopes.example.toml"
    rendered = render_chart(DEPLOY / "helm" / "govbot", {"digestScopes": example.read_text()})
    config, deployment = (yaml.safe_load(rendered[name]) for name in ("configmap.yaml", "deployment.yaml"))
    for doc in (config, deployment):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "GOVBOT_DIGEST_SCOPES_FILE", "value": "/etc/govbot/digest-scopes.toml"} in container["env"]
    assert {"name": "digest-scopes", "mountPath": "/etc/govbot", "readOnly": True} in container["volumeMounts"]
    assert {"name": "digest-scopes", "configMap": {"name": config["metadata"]["name"]}} in pod["volumes"]
    mounted = tmp_path / "digest-scopes.toml"
    mounted.write_text(config["data"]["digest-scopes.toml"])
    assert load_scopes(mounted) == load_scopes(example)
    # The file is read at start, so a changed file must roll the pods: the pod template carries its hash.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    changed = yaml.safe_load(render_chart(DEPLOY / "helm" / "govbot", {"digestScopes": example.read_text() + "\n# edited\n"})[
        "deployment.yaml"])["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/digest-scopes"] != changed["checksum/digest-scopes"]
    assert len(annotations["checksum/digest-scopes"]) == 64


def test_schema_check_catches_a_broken_object() -> None:
    deployment = yaml.safe_load(render_chart(DEPLOY / "helm" / "govbot")["deployment.yaml"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["healthcheck"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


YAMLLINT = YamlLintConfig("extends: default\nrules:\n  line-length: {max: 140}\n  document-start: disable\n"
                          "  truthy: {check-keys: false}\n  comments: {min-spaces-from-content: 1}\n")


@pytest.mark.parametrize("path", sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*")
                                         if p.suffix in (".yaml", ".yml") and "templates" not in p.parts))
def test_yaml_files_pass_yamllint(path: str) -> None:
    problems = [f"{path}:{p.line}:{p.column} {p.desc} ({p.rule})"
                for p in linter.run((DEPLOY / path).read_text(), YAMLLINT) if p.level == "error"]
    assert not problems, "\n".join(problems)


def test_renderer_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: x\nappVersion: '1'\n")
    (chart / "values.yaml").write_text("a: 1\n")
    (chart / "templates" / "_helpers.tpl").write_text("")
    (chart / "templates" / "x.yaml").write_text("v: {{ .Values.a | b64enc }}\n")
    with pytest.raises(Unsupported):
        render_chart(chart)


def test_compose_runs_migrations_before_serving() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["govbot"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["govbot"]["environment"]["GOVBOT_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_dockerfile_is_slim_non_root_with_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "\nUSER govbot\n" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'ENTRYPOINT ["govbot"]' in text and 'CMD ["serve"]' in text


def test_systemd_unit_parses() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "systemd" / "govbot.service").read_text())
    assert unit["Service"]["ExecStart"].endswith("govbot serve")
    assert unit["Service"]["ExecStartPre"].endswith("govbot db upgrade")
    assert unit["Service"]["User"] == "govbot"
    assert unit["Service"]["NoNewPrivileges"] == "true"


@pytest.mark.parametrize("path", sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*")
                                         if p.suffix in (".yaml", ".yml", ".json") and "templates" not in p.parts))
def test_every_manifest_parses(path: str) -> None:
    text = (DEPLOY / path).read_text()
    data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    assert data
