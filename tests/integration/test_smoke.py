def test_login_page(browser):
    r = browser.get("/login")
    assert r.status_code == 200
    assert "Log in" in r.text
