"""The trial team's pages in a real browser (issue 36): headless Chromium at a phone's 390 px and at a desktop's
1280 px. A research assistant answers the eligibility questions, confirms and gets the receipt (timed from the
login page to the receipt); an ineligible man is refused with the answers kept; the unblinder unblinds one man;
the statistician reads the dashboard; the administrator adds an account whose holder sets a password with the
setup code; the training service says TRAINING on every page.

With ``ADVANCE_TRIAL_SCREENSHOTS=DIR`` the pages are saved there as PNG files (docs/screenshots is made so).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from advance_trial.randomisation import allocation as al
from tests.allocation_helpers import BLOCKS
from tests.service_helpers import ELIGIBLE, PASSWORD, ServedTrial, Server, serve_trial
from tests.test_service_browser import browser, wait_for

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
BLOCKS_AF = BLOCKS + '  participant_id_pattern: "^AF[0-9]{3,5}$"\n'
#: The figures this module measured (printed at the end of the timed test).
TIMES: dict[str, float] = {}


def _shot(driver, name: str, size: str) -> None:
    folder = os.environ.get("ADVANCE_TRIAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"service-{name}-{size}.png"))


def _fits(driver, size: str) -> None:
    """Nothing wider than the window: no horizontal scroll on a phone."""
    width = SIZES[size][0]
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width, driver.current_url


def _log_in(driver, url: str, name: str, wait: str = "men") -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, wait)


def _log_out(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".logout button").click()
    wait_for(driver, "login")


def _submit(driver, button: str, wait: str, by_css: bool = False):
    """Click a form's button and wait for the next page (not the old one's element of the same id)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR if by_css else By.ID, button).click()
    WebDriverWait(driver, 20).until(_gone(old, ec.staleness_of(old)))
    return wait_for(driver, wait)


def _gone(old, stale):
    """``staleness_of``, also when ChromeDriver, asked mid-navigation, says the old page's node "does not belong
    to the document" (an error of its own, not a stale element) instead."""
    from selenium.common.exceptions import WebDriverException

    def check(driver):
        try:
            return stale(driver)
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise

    return check


def _answer(driver, answers: dict[str, bool]) -> None:
    from selenium.webdriver.common.by import By

    for cid, value in answers.items():
        driver.find_element(By.ID, f"eligible_{cid}_{'yes' if value else 'no'}").click()


def _trial(tmp_path: Path) -> ServedTrial:
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), eligibility=True, block=BLOCKS_AF)
    text = served.trial.config.read_text()
    target = "  design: parallel\n  target_sample_size: 104\n"
    served.trial.config.write_text(text.replace("  design: parallel\n", target))
    # earlier months' recruitment, so that the dashboard has something to draw
    for i, (month, site) in enumerate([(1, "london"), (1, "bristol"), (2, "wolverhampton"), (2, "london"),
                                       (3, "bristol"), (3, "london"), (3, "london")], start=101):  # fmt: skip
        al.allocate(served.cfg, served.ring, f"AF{i}", site, log=served.where, account=f"ra.{site}",
                    now=datetime(2026, month, 10, 11, tzinfo=UTC), eligibility=ELIGIBLE)  # fmt: skip
    return served


@pytest.mark.parametrize("size", list(SIZES))
def test_the_research_assistant_answers_confirms_and_gets_the_receipt(tmp_path, size):
    from selenium.webdriver.common.by import By

    served = _trial(tmp_path)
    driver = browser(*SIZES[size])
    try:
        with Server(served) as server:
            t0 = time.perf_counter()
            _log_in(driver, server.url, "ra.london", "allocate")
            _fits(driver, size)
            _shot(driver, "ra-form", size)
            driver.find_element(By.ID, "participant_id").send_keys("AF001")
            _answer(driver, ELIGIBLE)
            driver.find_element(By.ID, "allocate-button").click()
            confirm = wait_for(driver, "confirm")
            assert "AF001" in confirm.text and "London" in confirm.text and "cannot be undone" in confirm.text
            _fits(driver, size)
            _shot(driver, "ra-confirm", size)
            assert al.verify_log(served.cfg, served.ring, served.where).allocations == 7  # nothing written yet
            driver.find_element(By.ID, "confirm-button").click()
            receipt = wait_for(driver, "receipt")
            TIMES[size] = time.perf_counter() - t0
            frame = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id")
            label = served.cfg.arm(frame.at["AF001", "arm"]).label
            assert driver.find_element(By.CSS_SELECTOR, "#result .arm").text == label
            assert "Sequence\n8" in receipt.text or "Sequence 8" in receipt.text
            # the list below shows no arm
            assert label not in driver.find_element(By.ID, "men").text
            _fits(driver, size)
            _shot(driver, "allocated", size)
            # an ineligible man: refused in plain words, what was typed kept, nothing written
            driver.find_element(By.ID, "participant_id").send_keys("AF002")
            _answer(driver, {**ELIGIBLE, "other_programme": True})
            error = _submit(driver, "allocate-button", "error")
            assert "another programme" in error.text and "Nothing was written" in error.text
            assert driver.find_element(By.ID, "participant_id").get_attribute("value") == "AF002"
            assert driver.find_element(By.ID, "eligible_other_programme_yes").is_selected()
            _fits(driver, size)
            _shot(driver, "ineligible", size)
            # a malformed id: what IDs look like, not a pattern
            field = driver.find_element(By.ID, "participant_id")
            field.clear()
            field.send_keys("AF12")
            driver.find_element(By.ID, "eligible_other_programme_no").click()
            text = _submit(driver, "allocate-button", "error").text
            assert "AF followed by 3 to 5 digits" in text and "^" not in text
            assert driver.find_element(By.ID, "participant_id").get_attribute("value") == "AF12"
            # the team's pages are not the assistant's
            driver.get(server.url + "/dashboard")
            assert "This page is for the trial statistician" in wait_for(driver, "error").text
            driver.get(server.url + "/admin/users")
            assert "This page is for the administrator" in wait_for(driver, "error").text
            assert al.verify_log(served.cfg, served.ring, served.where).allocations == 8
    finally:
        driver.quit()
    print(f"\nresearch assistant's allocation, login page to receipt ({size}, {SIZES[size][0]} px): "
          f"{TIMES[size]:.2f} s")  # fmt: skip
    assert TIMES[size] < 60


@pytest.mark.parametrize("size", list(SIZES))
def test_the_unblinder_the_statistician_and_the_administrator_in_a_browser(tmp_path, size):
    from selenium.webdriver.common.by import By

    served = _trial(tmp_path)
    driver = browser(*SIZES[size])
    try:
        with Server(served) as server:
            # the unblinder: a list without arms; one man's arm after a reason
            _log_in(driver, server.url, "unblinder")
            labels = [a.label for a in served.cfg.arms]
            assert not any(label in driver.find_element(By.TAG_NAME, "main").text for label in labels)
            _fits(driver, size)
            _shot(driver, "unblinder", size)
            driver.find_element(By.ID, "u_participant").send_keys("AF103")
            driver.find_element(By.ID, "reason").send_keys("admitted to hospital, clinician asks")
            driver.find_element(By.CSS_SELECTOR, "#unblind button").click()
            shown = wait_for(driver, "unblinded").text
            arm = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id").at["AF103", "arm"]
            assert served.cfg.arm(arm).label in shown
            _fits(driver, size)
            _shot(driver, "unblinded", size)
            _log_out(driver)
            # the statistician: the dashboard, drawn on the server
            _log_in(driver, server.url, "stat")
            driver.find_element(By.ID, "dashboard-link").click()
            figure = wait_for(driver, "figure")
            assert figure.find_element(By.TAG_NAME, "svg").is_displayed()
            assert "7 of 104 men allocated" in driver.find_element(By.ID, "recruited").text
            assert "AF103" in driver.find_element(By.ID, "unblindings").text
            assert "verifies" in driver.find_element(By.ID, "log-state").text
            _fits(driver, size)
            _shot(driver, "dashboard", size)
            _log_out(driver)
            # the administrator adds an account; its holder sets a password with the code
            _log_in(driver, server.url, "admin", "users")
            driver.find_element(By.ID, "admin-link").click()
            wait_for(driver, "add-user")
            _fits(driver, size)
            driver.find_element(By.ID, "new_name").send_keys("ra.london2")
            driver.find_element(By.ID, "site_london").click()
            driver.find_element(By.ID, "add-button").click()
            code = wait_for(driver, "setup-code").text
            assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
            _fits(driver, size)
            _shot(driver, "admin-users", size)
            _log_out(driver)
            driver.find_element(By.ID, "setup-link").click()
            wait_for(driver, "setup")
            for field, value in (("name", "ra.london2"), ("code", code), ("password", PASSWORD),
                                 ("password2", PASSWORD)):  # fmt: skip
                driver.find_element(By.ID, field).send_keys(value)
            _shot(driver, "setup", size)
            driver.find_element(By.ID, "setup-button").click()
            wait_for(driver, "setup-done")
            _fits(driver, size)
            driver.find_element(By.ID, "to-login").click()
            _log_in(driver, server.url, "ra.london2", "allocate")
    finally:
        driver.quit()


def test_the_training_service_says_training_on_every_page(tmp_path, runner):
    from selenium.webdriver.common.by import By

    from advance_trial.cli.main import app

    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), eligibility=True, block=BLOCKS_AF)
    t = served.trial
    made = runner.invoke(app, ["randomise", "init", str(t.config), "--key-dir", str(t.keys), "--training", "--json"])
    assert made.exit_code == 0, made.output
    for name in ("trainee", "trainer"):
        role = ["--role", "site_ra", "--site", "london"] if name == "trainee" else ["--role", "statistician"]
        added = runner.invoke(app, ["users", "add", str(t.config), name, *role, "--key-dir", str(t.keys),
                                    "--training", "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
        assert added.exit_code == 0, added.output
    import json

    training = ServedTrial(t, json.loads(made.stdout)["log"])
    driver = browser(*SIZES["phone"])
    try:
        with Server(training, extra=["--training"]) as server:
            assert server.get("/api/health")[1]["trial"] == "advance-feasibility-training"
            driver.get(server.url + "/login")
            assert "TRAINING" in wait_for(driver, "training").text
            _log_in(driver, server.url, "trainee", "allocate")
            assert driver.find_element(By.ID, "training").is_displayed()
            driver.find_element(By.ID, "participant_id").send_keys("AF001")
            _answer(driver, ELIGIBLE)
            driver.find_element(By.ID, "allocate-button").click()
            wait_for(driver, "confirm")
            assert driver.find_element(By.ID, "training").is_displayed()
            driver.find_element(By.ID, "confirm-button").click()
            wait_for(driver, "receipt")
            assert driver.find_element(By.ID, "training").is_displayed()
            _fits(driver, "phone")
            _shot(driver, "training", "phone")
            _log_out(driver)
            _log_in(driver, server.url, "trainer")
            driver.get(server.url + "/dashboard")
            wait_for(driver, "recruited")
            assert driver.find_element(By.ID, "training").is_displayed()
    finally:
        driver.quit()
    # the live log has no allocation; the training log has one
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0
