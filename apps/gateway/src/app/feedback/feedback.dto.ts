import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsDefined, IsOptional, IsString, ValidateNested } from 'class-validator';

export class FeedbackDto {
  @ApiProperty({
    example: 'tweet-42',
    description: 'The id of an earlier prediction (yours, or the one the API gave).',
  })
  @IsDefined()
  @IsString()
  id!: string;

  @ApiProperty({
    oneOf: [
      { type: 'string', example: 'negative' },
      { type: 'integer', example: 0 },
    ],
    description: 'The right label: a name in any case (negative, neutral, positive) or its index (0, 1, 2).',
  })
  @IsDefined()
  label!: string | number;

  @ApiPropertyOptional({
    example: 'Worst update ever @acme',
    description:
      'The text that was classified. Optional: when absent, the gateway takes it from the job while the job is kept ' +
      '(RESULT_TTL_SECONDS). With a text, the label is also kept as a labelled example for retraining.',
  })
  @IsOptional()
  @IsString()
  text?: string;
}

export class FeedbackBatchDto {
  @ApiProperty({ type: [FeedbackDto] })
  @IsDefined()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => FeedbackDto)
  items!: FeedbackDto[];
}

export class ExampleOutcomeDto {
  @ApiProperty({
    nullable: true,
    description: 'Example id (32 hex digits, one per distinct text); null without a text.',
  })
  id!: string | null;
  @ApiProperty({
    enum: ['stored', 'duplicate', 'relabelled', 'no_text'],
    description:
      'stored: kept for the next dataset export; duplicate: this text already waits with this label; ' +
      'relabelled: it waited with another label, the latest wins; no_text: no text given and the job is gone.',
  })
  status!: string;
  @ApiPropertyOptional() reason?: string;
}

export class FeedbackResultDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['stored', 'replaced', 'not_found'] }) status!: string;
  @ApiProperty({ required: false, description: 'The label given.' }) label?: string;
  @ApiProperty({ required: false, description: 'What the model predicted.' }) predicted?: string;
  @ApiProperty({ required: false }) modelVersion?: string;
  @ApiPropertyOptional({ type: ExampleOutcomeDto, description: 'The labelled example kept for retraining.' })
  example?: ExampleOutcomeDto;
}

export class ExampleDto {
  @ApiProperty({ example: 'The new app is so slow', description: 'The text.' })
  @IsDefined()
  @IsString()
  text!: string;

  @ApiProperty({
    oneOf: [
      { type: 'string', example: 'negative' },
      { type: 'integer', example: 0 },
    ],
    description: 'Its label: a name in any case (negative, neutral, positive) or its index (0, 1, 2).',
  })
  @IsDefined()
  label!: string | number;

  @ApiPropertyOptional({ example: 'annotation-tool', description: 'Where the label comes from.' })
  @IsOptional()
  @IsString()
  source?: string;
}

export class ExampleBatchDto {
  @ApiProperty({ type: [ExampleDto] })
  @IsDefined()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ExampleDto)
  items!: ExampleDto[];
}

export class ExampleResultDto {
  @ApiProperty({ description: 'Example id: the first 32 hex digits of the sha256 of the text.' }) id!: string;
  @ApiProperty({ enum: ['stored', 'duplicate', 'relabelled'] }) status!: string;
  @ApiProperty() label!: string;
}

export class ExampleBatchResultDto {
  @ApiProperty({ type: [ExampleResultDto] }) results!: ExampleResultDto[];
}

export class FeedbackBatchResultDto {
  @ApiProperty({ type: [FeedbackResultDto] }) results!: FeedbackResultDto[];
}
