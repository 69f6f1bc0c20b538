"""``inlet form create``: one command gives the id, slug and snippets."""

from click.testing import CliRunner

from gateway.cli import main


def test_form_create_prints_id_slug_and_snippets(tenant, env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, [
        "form", "create", str(tenant.id), "--name", "Shop news", "--source", "Website",
        "--fields", "first_name", "--origin", "https://shop.example"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("id: ") and lines[1].startswith("slug: shop-news-")
    slug = lines[1].removeprefix("slug: ")
    assert f'<script src="http://testserver/f/{slug}/embed.js" async></script>' in result.output
    assert "<iframe" in result.output and '<form method="post"' in result.output
    listed = CliRunner().invoke(main, ["form", "list", str(tenant.id)])
    assert slug in listed.output


def test_form_create_explains_refusals(tenant, env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["form", "create", str(tenant.id), "--name", "x",
                                       "--source", "website"])
    assert result.exit_code != 0
    assert "Did you mean 'Website'?" in result.output
