import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Live runner processes (RunnerRepository.announce): each runner refreshes
 * its row while it runs, so every runner knows how many share the lanes and
 * claims at most its share of each flow's lanes. Written about once per
 * second per process; unlogged: after a crash the runners announce again.
 * `flow_cursors.caught_up_at`: when an idle lane was last moved to the
 * log's horizon without a step (RunnerRepository.advanceIdleLanes).
 */
export class RunnerProcesses1765480000000 implements MigrationInterface {
  name = 'RunnerProcesses1765480000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNLOGGED TABLE "runner_processes" ("owner" text NOT NULL, "seen_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_runner_processes" PRIMARY KEY ("owner"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD "caught_up_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" DROP COLUMN "caught_up_at"`,
    );
    await queryRunner.query(`DROP TABLE "runner_processes"`);
  }
}
