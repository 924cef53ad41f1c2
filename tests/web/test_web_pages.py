"""The counter and citizen pages in a real browser (Debian's Chromium, Playwright):
a real sealed licence uploaded and its verdict read from the page, a tampered copy, the
language switch, a phone-style photo of the QR code, and a citizen signing in through an
OpenID provider, seeing their licence and downloading the sealed PDF."""

from __future__ import annotations

from pathlib import Path

import web_kit
from playwright.sync_api import expect

VERDICT = "#verdict-word"


def open_page(page, path: str) -> None:
    """Open a page and wait until its script has wired the controls and loaded its
    language (a click before that would be lost)."""
    page.goto(path)
    page.wait_for_selector("body[data-ready]", timeout=10_000)


def shown_verdict(page) -> None:
    """Wait for the page's answer; a refusal fails here with what the page says."""
    page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=30_000)
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()


def upload_pdf(page, path: Path) -> None:
    page.set_input_files("#pdf-input", str(path))
    shown_verdict(page)


def test_counter_judges_a_sealed_licence_then_a_tampered_copy(page, site, tmp_path,
                                                              screenshots):
    issued = site.under_test.licences["yyzz"]
    original = tmp_path / "licence.pdf"
    original.write_bytes(issued.pdf)
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(web_kit.tampered(issued.pdf))

    open_page(page, "/verify")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("h1")).to_have_text("电子证照核验")

    upload_pdf(page, original)
    expect(page.locator(VERDICT)).to_have_text("有效")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "valid")
    fields = page.locator("#licence-fields")
    expect(fields.locator('[data-field="licence_id"]')).to_have_text(issued.licence_id)
    expect(fields.locator('[data-field="holder_name"]')).to_have_text(
        issued.licence.holder_name)
    expect(page.locator('#seal-fields [data-field="signer"]')).to_have_text("广州市市场监督管理局")
    expect(page.locator('#seal-fields [data-field="region"]')).to_contain_text("广东省")
    expect(page.locator('#checks [data-code="signature.integrity"]')).to_contain_text("通过")
    expect(page.locator("#licence-heading")).to_have_text("证照信息（请与纸质证照核对）")
    page.screenshot(path=str(screenshots / "screenshot-counter-valid.png"), full_page=True)

    upload_pdf(page, altered)
    expect(page.locator(VERDICT)).to_have_text("无效")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "invalid")
    integrity = page.locator('#checks [data-code="signature.integrity"]')
    expect(integrity).to_contain_text("未通过")
    expect(integrity).to_contain_text("篡改")
    expect(page.locator("#licence-heading")).to_contain_text("不可作为依据")
    # Failed checks come first, where the clerk looks.
    expect(page.locator("#checks li").first).to_have_class("check check-failed")
    page.screenshot(path=str(screenshots / "screenshot-counter-invalid.png"), full_page=True)
    assert page.problems == []


def test_language_switch_redraws_the_verdict_and_is_remembered(page, site, tmp_path,
                                                               screenshots):
    licence = tmp_path / "licence.pdf"
    licence.write_bytes(site.under_test.licences["yyzz"].pdf)
    open_page(page, "/")
    upload_pdf(page, licence)
    expect(page.locator(VERDICT)).to_have_text("有效")

    page.get_by_role("link", name="English").click()
    expect(page.locator(VERDICT)).to_have_text("Valid")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Verify an electronic licence")
    expect(page.locator('#checks [data-code="signature.integrity"]')).to_contain_text(
        "the signature is cryptographically sound")
    page.screenshot(path=str(screenshots / "screenshot-counter-valid-en.png"), full_page=True)

    open_page(page, "/verify")  # no ?lang=: the cookie the switch set decides
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="English")).to_have_attribute("aria-current", "true")

    page.get_by_role("link", name="繁體中文").click()
    upload_pdf(page, licence)
    expect(page.locator(VERDICT)).to_have_text("有效")
    expect(page.locator("#verdict-hint")).to_contain_text("證照")
    expect(page.locator("#checks-note")).to_contain_text("簡體中文")
    expect(page.locator('#checks [data-code="signature.integrity"] [lang="zh-Hans"]')
           ).to_have_count(1)

    open_page(page, "/verify?lang=zh-Hans")
    expect(page.locator("h1")).to_have_text("电子证照核验")
    assert page.problems == []


def test_photo_of_the_qr_code_is_judged_valid(page, site, tmp_path):
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(site.under_test.licences["yyzz"].pdf)
    photo = web_kit.qr_photo(pdf, tmp_path / "qr-photo.jpg")
    open_page(page, "/verify")
    page.set_input_files("#photo-input", str(photo))
    shown_verdict(page)
    expect(page.locator(VERDICT)).to_have_text("有效")
    expect(page.locator("#verdict-kind")).to_have_text("依据：证照二维码")
    expect(page.locator('#licence-fields [data-field="licence_id"]')).to_have_text(
        site.under_test.licences["yyzz"].licence_id)
    assert page.problems == []


def test_unusable_upload_and_pasted_qr_text(page, site, tmp_path):
    junk = tmp_path / "notes.pdf"
    junk.write_bytes(b"these are not the licences you are looking for")
    open_page(page, "/verify")
    page.set_input_files("#pdf-input", str(junk))
    expect(page.locator("#error")).to_be_visible(timeout=30_000)
    expect(page.locator("#error-message")).to_have_text("无法识别所上传的内容：")
    expect(page.locator("#result")).to_be_hidden()

    page.fill("#qr-text", "CSL1:NOT-A-REAL-PAYLOAD")
    page.get_by_role("button", name="核验", exact=True).click()
    expect(page.locator("#error, #result").locator("visible=true")).to_have_count(1)
    # A malformed payload is either refused (422) or judged invalid — never valid.
    assert page.locator(VERDICT).inner_text() != "有效"


def test_citizen_signs_in_lists_and_downloads_their_licence(page, site, screenshots):
    issued = site.under_test.licences["zyzgzs"]
    open_page(page, "/me")
    expect(page.locator("h1")).to_have_text("我的电子证照")
    page.get_by_role("button", name="登录").click()

    row = page.locator(f'tr[data-licence-id="{issued.licence_id}"]')
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("职业资格证书")
    expect(row).to_contain_text(issued.licence.holder_name)
    expect(row).to_contain_text("有效")
    expect(page.locator("#subject")).to_contain_text("****")
    assert "code=" not in page.url  # the single-use code is dropped from the address
    assert len(site.provider.exchanges) >= 1  # PKCE verifier matched the challenge
    # The token stays in this tab's sessionStorage; no cookie carries it.
    assert page.evaluate("sessionStorage.getItem('certseal.token')") is not None
    assert all(c["name"] == "lang" for c in page.context.cookies())
    page.screenshot(path=str(screenshots / "screenshot-citizen.png"), full_page=True)

    with page.expect_download() as download_info:
        row.get_by_role("button").click()
    download = download_info.value
    assert download.suggested_filename == f"{issued.licence_id}.pdf"
    assert Path(download.path()).read_bytes() == issued.pdf

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    expect(row).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('certseal.token')") is None
    assert page.problems == []


def test_controls_work_before_the_language_catalogue_arrives(page, site, tmp_path):
    licence = tmp_path / "licence.pdf"
    licence.write_bytes(site.under_test.licences["yyzz"].pdf)

    held = []  # the catalogue requests, answered only after the upload (a slow network)
    page.route("**/web/i18n/*.json", lambda route: held.append(route))
    page.goto("/verify")
    page.set_input_files("#pdf-input", str(licence))
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page did not ask for its catalogue"
    for route in held:
        route.continue_()
    shown_verdict(page)
    expect(page.locator(VERDICT)).to_have_text("有效")
    expect(page.locator("body[data-ready]")).to_have_count(1)


def test_a_name_hiding_characters_is_written_out_with_a_warning(page, site):
    """A QR the department really signed before text hygiene, with a right-to-left
    override in the holder's name: the page writes it out and says so."""
    import dataclasses

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.qr import decode_qr_payload, encode_qr_payload
    from seal.registry import get_seal
    from verify.limits import DEFAULT_LIMITS
    from verify.pdf_qr import qr_texts_of_first_page

    under_test = site.under_test
    (genuine,) = qr_texts_of_first_page(under_test.licences["yyzz"].pdf, DEFAULT_LIMITS)
    with under_test.domain.session() as session:
        label = get_seal(session, under_test.seal_id).key_label
    key = under_test.domain.token().private_key(label)
    claims = dataclasses.replace(decode_qr_payload(genuine).claims,
                                 holder_name="福州\u202e司公限有")
    old = encode_qr_payload(claims, lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))

    open_page(page, "/verify")
    expect(page.locator("#licence-hidden")).to_be_hidden()
    page.fill("#qr-text", old)
    page.get_by_role("button", name="核验", exact=True).click()
    shown_verdict(page)
    expect(page.locator('dd[data-field="holder_name"]')).to_have_text("福州\\u202e司公限有")
    expect(page.locator("#licence-hidden")).to_be_visible()
    expect(page.locator("#licence-hidden")).to_contain_text("不可见字符")
    assert not page.problems


def test_a_revoked_licence_is_called_revoked_not_forged(page, site, tmp_path):
    """A genuine licence its department revoked: the verdict says so, the licence details
    are shown as the licence (not as untrusted data of a forged file), and every field of
    the licence is there to compare with the paper."""
    import httpx

    from certs.samples import sample_licence_data

    headers = {"Authorization": f"Bearer {site.under_test.api_key}"}
    with httpx.Client(base_url=site.base_url, headers=headers, timeout=60) as department:
        issued = department.post("/v1/licences", json={
            "type": "yyzz", "data": sample_licence_data("yyzz")})
        assert issued.status_code == 201, issued.text
        licence_id = issued.json()["licence_id"]
        pdf = department.get(f"/v1/licences/{licence_id}/pdf").content
        revoked = department.post(f"/v1/licences/{licence_id}/revoke",
                                  json={"reason": "申请注销"})
        assert revoked.status_code == 200, revoked.text
    path = tmp_path / "revoked.pdf"
    path.write_bytes(pdf)

    open_page(page, "/verify")
    upload_pdf(page, path)
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "invalid")
    # The status list says "invalid" (revoked, superseded or recorded expired), no more.
    expect(page.locator(VERDICT)).to_have_text("证照已失效")
    expect(page.locator("#verdict-hint")).to_contain_text("文件真实")
    expect(page.locator("#licence-heading")).to_have_text("证照信息（请与纸质证照核对）")
    fields = page.locator("#licence-fields")
    data = sample_licence_data("yyzz")
    expect(fields.locator('[data-field="data.法定代表人"]')).to_have_text(data["法定代表人"])
    expect(fields.locator('[data-field="data.住所"]')).to_have_text(data["住所"])
    expect(page.locator("#checks-folded")).to_be_hidden()
    assert page.problems == []


def test_a_tamper_folds_the_failures_it_causes(page, site, tmp_path):
    """Next to a failed integrity check, the failures it causes (the QR no longer matching,
    ...) are folded under it, not shown as separate findings."""
    issued = site.under_test.licences["yyzz"]
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(web_kit.tampered(issued.pdf))
    open_page(page, "/verify")
    upload_pdf(page, altered)
    expect(page.locator(VERDICT)).to_have_text("无效")
    primary = page.locator("#checks > li.check-failed")
    expect(primary.first).to_be_visible()
    codes = primary.evaluate_all("items => items.map(i => i.dataset.code)")
    assert codes and set(codes) <= {"signature.layout", "signature.integrity",
                                    "signature.coverage", "signature.modifications",
                                    "document.parsers_agree", "licence.data_matches"}, codes
    folded = page.locator("#checks-folded-list li")
    assert all(c not in codes for c in folded.evaluate_all(
        "items => items.map(i => i.dataset.code)"))
    assert page.problems == []


def test_a_qr_result_names_the_licence_type(page, site):
    from verify.limits import DEFAULT_LIMITS
    from verify.pdf_qr import qr_texts_of_first_page

    (text,) = qr_texts_of_first_page(site.under_test.licences["yyzz"].pdf, DEFAULT_LIMITS)
    open_page(page, "/verify")
    page.fill("#qr-text", text)
    page.get_by_role("button", name="核验", exact=True).click()
    shown_verdict(page)
    expect(page.locator("#licence-fields")).to_contain_text("营业执照")
    assert page.problems == []


def test_the_citizen_page_at_phone_width_shows_cards(browser, site, screenshots):
    """390 px wide (a phone): each licence a card, nothing scrolls sideways, the download
    button is on screen and full width."""
    context = browser.new_context(base_url=site.base_url, locale="zh-CN",
                                  viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=3)
    page = context.new_page()
    try:
        issued = site.under_test.licences["zyzgzs"]
        open_page(page, "/me")
        page.get_by_role("button", name="登录").click()
        card = page.locator(f'tr[data-licence-id="{issued.licence_id}"]')
        expect(card).to_be_visible(timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        button = card.get_by_role("button")
        button.scroll_into_view_if_needed()
        place = button.bounding_box()
        assert place["x"] >= 0 and place["x"] + place["width"] <= 390
        assert place["width"] > 250  # full card width, easy to tap
        expect(card.locator("td").first).to_contain_text("职业资格证书")
        label = card.locator("td").nth(3).evaluate(
            "cell => getComputedStyle(cell, '::before').content")
        assert "有效期" in label, label
        page.screenshot(path=str(screenshots / "screenshot-citizen-phone.png"), full_page=True)
    finally:
        context.close()
