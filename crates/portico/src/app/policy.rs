//! Who may do what. Every rule is a plain function of facts already loaded,
//! with no I/O, so each one is tested here on its own, "no" cases included.

use crate::domain::{ClientId, PracticeId, Role};
use crate::store::{Client, PortalClient, Staff};

/// A staff user may work with a client of their own practice, and only
/// while their account is active.
pub fn staff_may_open_client(staff: &Staff, client: &Client) -> bool {
    staff.active && staff.practice_id == client.practice_id
}

/// Practice settings, staff management and All Contacts are for admins (P1, P4).
pub fn staff_may_manage_practice(staff: &Staff, practice: PracticeId) -> bool {
    staff.active && staff.role == Role::Admin && staff.practice_id == practice
}

/// Giving an existing contact access to another client is an admin's
/// decision (P3, P4); members see what to ask for.
pub fn staff_may_grant_existing_contact(staff: &Staff) -> bool {
    staff.active && staff.role == Role::Admin
}

/// A contact may open a client only when it is among the clients they reach
/// (given to them, or a sub-record of a family primary given to them).
pub fn contact_may_open_client(reachable: &[PortalClient], client: ClientId) -> bool {
    reachable.iter().any(|c| c.client.id == client)
}

/// Q3: a contact sees a question of a client they reach when the client's
/// questions are not assignable, or the question is assigned to nobody, or
/// to them.
pub fn contact_may_see_question(
    contact: crate::domain::ContactId,
    reachable: &[PortalClient],
    client_assignable: bool,
    question: &crate::store::Question,
) -> bool {
    contact_may_open_client(reachable, question.client_id)
        && (!client_assignable || question.assignee.is_none() || question.assignee == Some(contact))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientKind, Millis, StaffId};

    fn staff(practice: PracticeId, role: Role) -> Staff {
        Staff {
            id: StaffId::new(),
            practice_id: practice,
            email: "s@example.com".into(),
            name: "S".into(),
            role,
            active: true,
            totp_enabled: false,
            last_sign_in_at: None,
            created_at: Millis(0),
            time_zone: None,
        }
    }

    fn client(practice: PracticeId) -> Client {
        Client {
            id: ClientId::new(),
            practice_id: practice,
            name: "C".into(),
            kind: ClientKind::Business,
            primary_client_id: None,
            assignable_questions: false,
            created_at: Millis(0),
        }
    }

    #[test]
    fn staff_open_their_own_practices_clients_only() {
        let p = PracticeId::new();
        let member = staff(p, Role::Member);
        assert!(staff_may_open_client(&member, &client(p)));
        assert!(!staff_may_open_client(&member, &client(PracticeId::new())));
    }

    #[test]
    fn deactivated_staff_may_do_nothing() {
        let p = PracticeId::new();
        let mut admin = staff(p, Role::Admin);
        admin.active = false;
        assert!(!staff_may_open_client(&admin, &client(p)));
        assert!(!staff_may_manage_practice(&admin, p));
        assert!(!staff_may_grant_existing_contact(&admin));
    }

    #[test]
    fn only_admins_manage_their_practice() {
        let p = PracticeId::new();
        assert!(staff_may_manage_practice(&staff(p, Role::Admin), p));
        assert!(!staff_may_manage_practice(&staff(p, Role::Member), p));
        assert!(!staff_may_manage_practice(
            &staff(p, Role::Admin),
            PracticeId::new()
        ));
        assert!(staff_may_grant_existing_contact(&staff(p, Role::Admin)));
        assert!(!staff_may_grant_existing_contact(&staff(p, Role::Member)));
    }

    #[test]
    fn questions_follow_the_assignable_setting() {
        use crate::domain::{ContactId, Millis, QuestionId};
        use crate::store::{Question, QuestionStatus};
        let p = PracticeId::new();
        let mine = client(p);
        let reachable = vec![PortalClient {
            client: mine.clone(),
            through_primary: None,
        }];
        let (me, other) = (ContactId::new(), ContactId::new());
        let question = |assignee| Question {
            id: QuestionId::new(),
            practice_id: p,
            client_id: mine.id,
            assignee,
            title: "Q".into(),
            details: String::new(),
            status: QuestionStatus::Open,
            asked_by: StaffId::new(),
            asked_at: Millis(0),
            updated_at: Millis(0),
        };
        // Setting off: every contact sees every question, assigned or not.
        assert!(contact_may_see_question(
            me,
            &reachable,
            false,
            &question(Some(other))
        ));
        assert!(contact_may_see_question(
            me,
            &reachable,
            false,
            &question(None)
        ));
        // Setting on: the assignee only, or everyone when unassigned.
        assert!(contact_may_see_question(
            me,
            &reachable,
            true,
            &question(Some(me))
        ));
        assert!(!contact_may_see_question(
            me,
            &reachable,
            true,
            &question(Some(other))
        ));
        assert!(contact_may_see_question(
            me,
            &reachable,
            true,
            &question(None)
        ));
        // Never a question of a client they do not reach.
        assert!(!contact_may_see_question(me, &[], false, &question(None)));
    }

    #[test]
    fn contacts_open_reachable_clients_only() {
        let p = PracticeId::new();
        let mine = client(p);
        let reachable = vec![PortalClient {
            client: mine.clone(),
            through_primary: None,
        }];
        assert!(contact_may_open_client(&reachable, mine.id));
        assert!(!contact_may_open_client(&reachable, ClientId::new()));
        assert!(!contact_may_open_client(&[], mine.id));
    }
}
