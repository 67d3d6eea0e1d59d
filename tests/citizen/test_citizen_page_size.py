"""Size budget: the questionnaire page with its CSS and scripts stays under 60 KB (no gzip assumed)."""
from __future__ import annotations

import re

import pytest

import questionnaires

BUDGET = 60 * 1024


def page_weight(client, url):
    response = client.get(url)
    html = response.get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    sizes = {url: len(html)}
    for asset in assets:
        sizes[asset.decode()] = len(client.get(asset.decode()).get_data())
    return sizes


def test_questionnaire_page_with_its_css_and_scripts_is_within_60kb(client):
    for url in ("/u/quan-1", "/u/quan-1?lang=en"):
        sizes = page_weight(client, url)
        assert "/static/site.css" in sizes and "/static/form.js" in sizes
        assert sum(sizes.values()) <= BUDGET, sizes


def test_page_returned_with_every_error_is_within_60kb(client, citizen):
    form = citizen.open()
    response = citizen.submit(form, {})
    assert response.status_code == 422
    html = response.get_data()
    assets = sum(len(client.get(a.decode()).get_data()) for a in re.findall(rb'(?:href|src)="(/static/[^"]+)"', html))
    assert len(html) + assets <= BUDGET


def test_every_asset_is_served_locally(client):
    html = client.get("/u/quan-1").get_data(as_text=True)
    assert not re.search(r'(?:href|src)="(?:https?:)?//', html)
    assert "@import" not in client.get("/static/site.css").get_data(as_text=True)
    assert "url(" not in client.get("/static/site.css").get_data(as_text=True)


@pytest.mark.parametrize("questionnaire_id", sorted(questionnaires.load_all()))
def test_every_shipped_questionnaire_page_is_within_60kb(make_app, questionnaire_id):
    client = make_app(DEFAULT_QUESTIONNAIRE=questionnaire_id).test_client()
    sizes = page_weight(client, "/u/quan-1")
    assert sum(sizes.values()) <= BUDGET, sizes
