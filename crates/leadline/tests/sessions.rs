//! Sign-in and sessions on both databases, with the test clock: failed sign-ins throttled
//! per account and per address (and forgotten after a success), a planted session cookie
//! worthless, idle and absolute timeouts, sign out everywhere, and a password change or
//! deactivation ending every session. One test, because the clock is process-wide.

mod common;

use chrono::Duration;
use leadline_app::AppConfig;
use leadline_app::admin::{NewUser, UserUpdate};
use leadline_domain::sign_in::SignInThrottle;
use leadline_domain::time::{manual_clock, now};
use leadline_domain::{Principal, Role};
use reqwest::StatusCode;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn user(t: &common::TestApp, email: &str) -> Uuid {
    t.app
        .create_user(
            &Principal::system("test"),
            NewUser {
                email: email.into(),
                name: email.into(),
                role: Role::Rep,
                password: Some(PASSWORD.into()),
                sees_all_leads: false,
            },
        )
        .await
        .unwrap()
        .id
}

async fn sign_in(
    t: &common::TestApp,
    c: &reqwest::Client,
    email: &str,
    pw: &str,
) -> reqwest::Response {
    c.post(t.url("/login"))
        .form(&[("email", email), ("password", pw), ("next", "/leads")])
        .send()
        .await
        .unwrap()
}

/// 200 while the client's session is live, 303 (to the sign-in page) once it is not.
async fn leads_page(t: &common::TestApp, c: &reqwest::Client) -> StatusCode {
    c.get(t.url("/leads")).send().await.unwrap().status()
}

fn advance(by: Duration) {
    manual_clock::set(now() + by);
}

#[tokio::test]
async fn sign_in_is_throttled_and_sessions_end_when_they_should() {
    let config = AppConfig {
        sign_in: SignInThrottle {
            per_account: 3,
            per_address: 8,
            window: 15 * 60 * 1_000_000,
        },
        ..AppConfig::default()
    };
    let idle = config.session_idle;
    let absolute = config.session_absolute;
    for t in common::apps_with(config).await {
        manual_clock::set(chrono::Utc::now());
        let n = &t.name;
        let ana = user(&t, "ana@example.com").await;
        user(&t, "bo@example.com").await;
        let c = client();

        // Per account: three failures, then even the right password waits.
        for _ in 0..3 {
            let r = sign_in(&t, &c, "ana@example.com", "wrong password!").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{n}");
        }
        let r = sign_in(&t, &c, "Ana@Example.com ", PASSWORD).await;
        assert_eq!(
            r.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{n}: email case and spaces do not dodge it"
        );
        assert_eq!(r.headers()["retry-after"], "900", "{n}");
        assert!(r.headers().get("set-cookie").is_none(), "{n}: no session");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Too many failed sign-ins. Try again in 15 minutes.")
        );
        assert_eq!(leads_page(&t, &c).await, StatusCode::SEE_OTHER, "{n}");
        // Another account from the same address is not held up.
        let bo = client();
        assert_eq!(
            sign_in(&t, &bo, "bo@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER,
            "{n}"
        );
        // Ten minutes on the oldest failure is still inside the window …
        advance(Duration::minutes(10));
        let r = sign_in(&t, &c, "ana@example.com", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{n}");
        assert_eq!(r.headers()["retry-after"], "300", "{n}");
        // … five more and it has left.
        advance(Duration::minutes(5) + Duration::seconds(1));
        assert_eq!(
            sign_in(&t, &c, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER,
            "{n}"
        );
        assert_eq!(leads_page(&t, &c).await, StatusCode::OK, "{n}");

        // A success forgets the account's failures: 2 + success + 2 is never three in a row.
        let d = client();
        for _ in 0..2 {
            assert_eq!(
                sign_in(&t, &d, "ana@example.com", "wrong password!")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            sign_in(&t, &d, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER,
            "{n}"
        );
        for _ in 0..2 {
            assert_eq!(
                sign_in(&t, &d, "ana@example.com", "wrong password!")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            sign_in(&t, &d, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER,
            "{n}"
        );

        // Per address: failures for accounts that do not exist count too; eight of them, for
        // eight emails, hold up every account from that address.
        advance(Duration::minutes(16));
        for i in 0..8 {
            let r = sign_in(&t, &d, &format!("nobody{i}@example.com"), "whatever it is").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{n}");
        }
        let r = sign_in(&t, &client(), "bo@example.com", PASSWORD).await;
        assert_eq!(
            r.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{n}: the address is throttled"
        );
        advance(Duration::minutes(16));
        assert_eq!(
            sign_in(&t, &client(), "bo@example.com", PASSWORD)
                .await
                .status(),
            StatusCode::SEE_OTHER,
            "{n}"
        );

        // A session cookie planted before sign-in (fixation) is not what sign-in hands out,
        // and is no session.
        let planted = "planted-by-an-attacker";
        let r = client()
            .post(t.url("/login"))
            .header("cookie", format!("leadline_session={planted}"))
            .form(&[("email", "bo@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{n}");
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            set.starts_with("leadline_session=") && !set.contains(planted),
            "{n}: {set}"
        );
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{n}: {set}"
        );
        let r = client()
            .get(t.url("/leads"))
            .header("cookie", format!("leadline_session={planted}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{n}");

        // Idle timeout: quiet for longer than the idle time ends the session.
        let e = client();
        assert_eq!(
            sign_in(&t, &e, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
        advance(Duration::from_std(idle).unwrap() - Duration::minutes(1));
        assert_eq!(
            leads_page(&t, &e).await,
            StatusCode::OK,
            "{n}: just inside the idle time"
        );
        advance(Duration::from_std(idle).unwrap() + Duration::minutes(1));
        assert_eq!(
            leads_page(&t, &e).await,
            StatusCode::SEE_OTHER,
            "{n}: idle too long"
        );

        // Absolute timeout: used every few hours, the session still ends after its lifetime.
        let f = client();
        assert_eq!(
            sign_in(&t, &f, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
        let step = Duration::hours(6);
        let mut lived = Duration::zero();
        while lived + step < Duration::from_std(absolute).unwrap() {
            advance(step);
            lived += step;
            assert_eq!(
                leads_page(&t, &f).await,
                StatusCode::OK,
                "{n}: alive after {lived}"
            );
        }
        advance(step);
        assert_eq!(
            leads_page(&t, &f).await,
            StatusCode::SEE_OTHER,
            "{n}: past its lifetime"
        );

        // Sign out everywhere ends every session of that user, and only theirs.
        let (g, h, other) = (client(), client(), client());
        for (c, who) in [
            (&g, "ana@example.com"),
            (&h, "ana@example.com"),
            (&other, "bo@example.com"),
        ] {
            assert_eq!(
                sign_in(&t, c, who, PASSWORD).await.status(),
                StatusCode::SEE_OTHER
            );
            assert_eq!(leads_page(&t, c).await, StatusCode::OK);
        }
        let r = g.post(t.url("/logout/everywhere")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{n}");
        assert_eq!(leads_page(&t, &g).await, StatusCode::SEE_OTHER, "{n}");
        assert_eq!(
            leads_page(&t, &h).await,
            StatusCode::SEE_OTHER,
            "{n}: the other device too"
        );
        assert_eq!(
            leads_page(&t, &other).await,
            StatusCode::OK,
            "{n}: another user stays"
        );

        // A password change (by an admin) and a deactivation end the user's sessions.
        assert_eq!(
            sign_in(&t, &g, "ana@example.com", PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
        let admin = Principal::system("test");
        let new_password = "another horse battery";
        t.app
            .update_user(
                &admin,
                ana,
                UserUpdate {
                    password: Some(new_password.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            leads_page(&t, &g).await,
            StatusCode::SEE_OTHER,
            "{n}: password changed"
        );
        assert_eq!(
            sign_in(&t, &g, "ana@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            sign_in(&t, &g, "ana@example.com", new_password)
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
        t.app
            .update_user(
                &admin,
                ana,
                UserUpdate {
                    active: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            leads_page(&t, &g).await,
            StatusCode::SEE_OTHER,
            "{n}: deactivated"
        );
        assert_eq!(
            sign_in(&t, &g, "ana@example.com", new_password)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        // Weak passwords are refused.
        let err = t
            .app
            .update_user(
                &admin,
                ana,
                UserUpdate {
                    password: Some("short".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, leadline_app::AppError::Validation(_)),
            "{n}: {err}"
        );
        manual_clock::clear();
    }
}
