/* Waiter slot (per fd, per direction): generated from model/waiter.toml by model/generate; do not edit. */

#define S_empty 0
#define S_waiting 1
#define S_ready 2
#define S_closed 3

byte state = S_empty;
bool v_hup = false;
byte v_live = 0;
bool v_unconsumed = false;

/* Every stored waker is woken or removed exactly once: no lost and no double wake-up. */
ltl waker_accounted { [] ((((state == S_waiting) && (v_live == 1)) || ((state != S_waiting) && (v_live == 0)))) }
/* Readiness reported before a task asks, or while it waits, is never lost: the slot is `ready` until a would-block consumes it, so no task parks (or is told to retry later) while the fd is ready. */
ltl no_lost_readiness { [] ((((state != S_empty) && (state != S_waiting)) || !(v_unconsumed))) }
/* After close no waker remains registered. */
ltl closed_holds_no_waker { [] (((state != S_closed) || (v_live == 0))) }
/* A closed slot never comes back. */
ltl closed_stays_closed { [] (((state == S_closed)) -> [] ((state == S_closed))) }

active proctype env() {
end:
    do
    :: d_step { (state == S_empty) -> v_live = (v_live + 1); state = S_waiting } /* poll  */
    :: d_step { (state == S_waiting) -> v_live = (v_live - 1); v_live = (v_live + 1); state = S_waiting } /* poll  */
    :: d_step { (state == S_ready) -> state = S_ready } /* poll  */
    :: d_step { (state == S_closed) -> state = S_closed } /* poll  */
    :: d_step { (state == S_ready && !(v_hup)) -> v_unconsumed = false; state = S_empty } /* clear  */
    :: d_step { (state == S_ready && v_hup) -> state = S_ready } /* clear  */
    :: d_step { (state == S_empty) -> state = S_empty } /* clear  */
    :: d_step { (state == S_closed) -> state = S_closed } /* clear  */
    :: d_step { (state == S_empty) -> v_unconsumed = true; state = S_ready } /* readiness  */
    :: d_step { (state == S_waiting) -> v_live = (v_live - 1); v_unconsumed = true; state = S_ready } /* readiness  */
    :: d_step { (state == S_ready) -> v_unconsumed = true; state = S_ready } /* readiness  */
    :: d_step { (state == S_closed) -> v_unconsumed = true; state = S_closed } /* readiness  */
    :: d_step { (state == S_empty) -> v_hup = true; v_unconsumed = true; state = S_ready } /* hang_up  */
    :: d_step { (state == S_waiting) -> v_hup = true; v_live = (v_live - 1); v_unconsumed = true; state = S_ready } /* hang_up  */
    :: d_step { (state == S_ready) -> v_hup = true; v_unconsumed = true; state = S_ready } /* hang_up  */
    :: d_step { (state == S_closed) -> v_hup = true; v_unconsumed = true; state = S_closed } /* hang_up  */
    :: d_step { (state == S_empty) -> state = S_closed } /* close  */
    :: d_step { (state == S_ready) -> state = S_closed } /* close  */
    :: d_step { (state == S_closed) -> state = S_closed } /* close  */
    :: d_step { (state == S_waiting) -> v_live = (v_live - 1); state = S_closed } /* close  */
    :: d_step { (state == S_waiting) -> v_live = (v_live - 1); state = S_empty } /* drop  */
    :: d_step { (state == S_empty) -> state = S_empty } /* drop  */
    :: d_step { (state == S_ready) -> state = S_ready } /* drop  */
    :: d_step { (state == S_closed) -> state = S_closed } /* drop  */
    od
}

